/// Runs `body` in a child task and returns its result; cancelling the caller cancels it.
///
/// For long-lived loops (an app's watcher lives as long as the agent): a task's allocator keeps
/// the slabs of the deepest stack of async frames it ever had until the task ends (the Swift
/// runtime's StackAllocator reuses a freed slab but never frees one early), so a loop that awaits
/// a deploy inline holds that deploy's frames for good. A child task's slabs go with the child.
@discardableResult
public func inChildTask<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) async throws -> T {
    try await withThrowingTaskGroup(of: T.self) { group in
        group.addTask(operation: body)
        guard let result = try await group.next() else { throw CancellationError() }
        return result
    }
}
