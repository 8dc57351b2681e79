/// What the gate let through: who signed each commit it verified (none when the app verifies
/// nothing).
public struct GatePass: Sendable, Equatable {
    /// The commits whose signatures were checked, oldest first (strict scope: every one since
    /// the live release), each with the key that signed it as the tool named it.
    public var signed: [Signed] = []

    /// One verified commit and its signer.
    public struct Signed: Sendable, Equatable, Encodable {
        public var commit: String
        public var signer: String?
    }

    public init(signed: [Signed] = []) { self.signed = signed }
}
