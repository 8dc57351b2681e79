// Benchmark driver for scripts/bench-*; not part of the agent binary.
//   jailpilot-bench poll URL ITERATIONS
//   jailpilot-bench poll-memory URL ITERATIONS
//   jailpilot-bench flip CONFIG APP FLIPS OLD_BODY NEW_BODY FRONT_PORT
//   jailpilot-bench reload ADMIN_PORT FRONT_PORT HOST ADDR1 ADDR2 PORT FLIPS BODY1 BODY2
//   jailpilot-bench forge URL AGENTS SECONDS INTERVAL_MS
import Foundation
import JailPilot

let args = CommandLine.arguments
func usage() -> Never {
    FileIO.writeStandardError("usage: see the comment at the top of Sources/jailpilot-bench/main.swift\n")
    exit(2)
}
switch args.count > 1 ? args[1] : "" {
case "poll":
    guard args.count == 4, let n = Int(args[3]) else { usage() }
    try await benchPoll(url: args[2], iterations: n)
case "poll-memory":
    guard args.count == 4, let n = Int(args[3]) else { usage() }
    try await benchPollMemory(url: args[2], iterations: n)
case "flip":
    guard args.count == 8, let n = Int(args[4]), let front = Int(args[7]) else { usage() }
    try await benchFlip(config: args[2], app: args[3], flips: n, old: args[5], new: args[6], front: front)
case "reload":
    guard args.count == 11, let admin = Int(args[2]), let front = Int(args[3]), let port = Int(args[7]), let n = Int(args[8])
    else { usage() }
    try await benchReload(
        admin: admin, front: front, host: args[4], addresses: [args[5], args[6]], port: port, flips: n,
        bodies: [args[9], args[10]])
case "forge":
    guard args.count == 6, let agents = Int(args[3]), let seconds = Int(args[4]), let ms = Int(args[5]), agents > 0, ms > 0
    else { usage() }
    try await benchForge(url: args[2], agents: agents, seconds: seconds, interval: .milliseconds(ms))
default:
    usage()
}
