extension Deployer {
    /// What reaching a step does (nothing unless a crash test injected crash points).
    var crash: any CrashPoints { runtime.crash }
}
