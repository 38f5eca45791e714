import Metering

/// The generation endpoints, by their paths (the route table, batch lines and ledger rows name them so).
public enum Endpoint: String, Sendable, CaseIterable {
    case chatCompletions = "/v1/chat/completions"
    case completions = "/v1/completions"
    /// Runs as a chat completion; rows and metrics still name it.
    case responses = "/v1/responses"
}

/// Whether the client that asked is still there (an HTTP connection's socket; a batch line always is).
public protocol ClientPresence: Sendable {
    var hasLeft: Bool { get }
}

/// A client that cannot leave: batch lines, and waits that only collect what already ran.
public struct AlwaysPresent: ClientPresence {
    public init() {}
    public var hasLeft: Bool { false }
}

/// A batch line run in-process: metered under its batch, as the batch's
/// owner, with a request id that is the same on every run of the batch.
public struct BatchLineContext: Sendable {
    public var batchID: String
    public var customID: String
    public var owner: Caller
    public init(batchID: String, customID: String, owner: Caller) {
        self.batchID = batchID
        self.customID = customID
        self.owner = owner
    }
    public var requestID: String { LedgerRow.batchLineID(batchID: batchID, customID: customID) }
}

/// Who asks, under which request id (the ledger's key), and whether they are still there.
public struct RequestContext: Sendable {
    public var id: String
    public var caller: Caller
    public var batchLine: BatchLineContext?
    public var client: any ClientPresence

    public init(id: String, caller: Caller, batchLine: BatchLineContext? = nil, client: any ClientPresence = AlwaysPresent()) {
        self.id = id
        self.caller = caller
        self.batchLine = batchLine
        self.client = client
    }

    /// A batch line's context: its stable id, its owner.
    public init(batchLine: BatchLineContext) {
        self.init(id: batchLine.requestID, caller: batchLine.owner, batchLine: batchLine)
    }

    /// 24 random hex digits: unique per request, and the ledger's key.
    public static func makeID() -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<3).map { _ in String(format: "%08x", UInt32.random(in: .min ... .max, using: &generator)) }.joined()
    }
}
