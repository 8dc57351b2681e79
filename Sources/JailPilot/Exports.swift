// `import JailPilot` is the whole library: the engine and the two layers under it, re-exported
// (docs/DESIGN.md, "Layers").
@_exported import JailPilotCore
@_exported import JailPilotHost
