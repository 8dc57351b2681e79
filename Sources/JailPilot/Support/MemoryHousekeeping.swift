import CSpawn

/// Memory housekeeping for the long-running agent.
public enum MemoryHousekeeping {
    /// Returns freed heap pages to the system. glibc keeps them in per-thread arenas after a
    /// burst of work (many deploys at once); FreeBSD's jemalloc purges on its own.
    public static func releaseFreeMemory() {
        _ = jp_malloc_trim()
    }
}
