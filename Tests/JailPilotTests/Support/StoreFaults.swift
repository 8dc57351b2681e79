@testable import JailPilotCore

extension StateStore {
    /// Every `operation` (INSERT, UPDATE or DELETE) on `table` fails from now on, as on a full
    /// disk or a damaged page: a trigger aborts it; reads and other tables go on working.
    func failEvery(_ operation: String, on table: String) throws {
        try locked { db in
            try db.execute(
                "CREATE TRIGGER fail_\(operation.lowercased())_\(table) BEFORE \(operation) ON \(table) BEGIN SELECT RAISE(ABORT, 'injected failure: \(operation) on \(table)'); END"
            )
        }
    }
}
