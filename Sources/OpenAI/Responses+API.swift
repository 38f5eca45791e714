import Foundation

/// `POST /v1/responses`, stateless: what Wafer reads of OpenAI's Responses API request.
public struct ResponsesRequest: Decodable, Sendable {
    public var model: String
    public var input: Input
    public var instructions: String?
    public var tools: [FunctionTool]?
    public var toolChoice: JSONValue?
    public var parallelToolCalls: Bool?
    public var text: TextOptions?
    public var maxOutputTokens: Int?
    public var temperature: Double?
    public var topP: Double?
    public var stream: Bool?
    public var previousResponseID: String?
    public var store: Bool?

    /// A string, or a list of items: messages, function calls and their outputs.
    public enum Input: Decodable, Sendable {
        case text(String)
        case items([Item])

        public init(from decoder: Decoder) throws {
            let c = try decoder.singleValueContainer()
            if let text = try decodeIfString(c) { self = .text(text) } else { self = .items(try c.decode([Item].self)) }
        }
    }

    public struct Item: Decodable, Sendable {
        public var type: String?
        public var role: String?
        /// A message's text (its text parts joined).
        public var content: String?
        public var callID: String?
        public var name: String?
        public var arguments: String?
        public var output: String?

        enum CodingKeys: String, CodingKey { case type, role, content, callID = "call_id", name, arguments, output }
        struct Part: Decodable { let type: String; let text: String? }

        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            type = try c.decodeIfPresent(String.self, forKey: .type)
            role = try c.decodeIfPresent(String.self, forKey: .role)
            callID = try c.decodeIfPresent(String.self, forKey: .callID)
            name = try c.decodeIfPresent(String.self, forKey: .name)
            arguments = try c.decodeIfPresent(String.self, forKey: .arguments)
            output = try c.decodeIfPresent(String.self, forKey: .output)
            if !c.contains(.content) {
                content = nil
            } else if let text = try decodeIfString(c, .content) {
                content = text
            } else if let parts = try c.decodeIfPresent([Part].self, forKey: .content) {
                content = try parts.map { part in
                    guard ["input_text", "output_text", "text"].contains(part.type), let text = part.text else {
                        throw APIError.invalidRequest("Only text content parts are supported; got '\(part.type)'.", param: "input",
                                                      code: "unsupported_content")
                    }
                    return text
                }.joined()
            }
        }
    }

    /// A function tool as the Responses API spells it (flat, not under `function`).
    public struct FunctionTool: Decodable, Sendable {
        public var type: String
        public var name: String?
        public var description: String?
        public var parameters: JSONValue?
    }

    public struct TextOptions: Decodable, Sendable {
        public struct Format: Decodable, Sendable {
            public var type: String
            public var name: String?
            public var schema: JSONValue?
            public var strict: Bool?
        }
        public var format: Format?
    }

    enum CodingKeys: String, CodingKey {
        case model, input, instructions, tools, toolChoice = "tool_choice", parallelToolCalls = "parallel_tool_calls", text
        case maxOutputTokens = "max_output_tokens", temperature, topP = "top_p", stream, previousResponseID = "previous_response_id", store
    }
}

/// The Responses API's response object (the fields its clients read).
public struct ResponseObject: Encodable, Sendable {
    public var id: String
    public var object = "response"
    public var createdAt: Int
    public var status: String
    public var model: String
    public var output: [OutputItem]
    public var usage: ResponseUsage?
    public var incompleteDetails: [String: String]?
    public var error: String? = nil
    public var instructions: String?
    public var maxOutputTokens: Int?
    public var parallelToolCalls = true
    public var temperature: Double?
    public var topP: Double?
    public var toolChoice = "auto"
    public var tools: [JSONValue] = []
    public var text: JSONValue = .object(["format": .object(["type": .string("text")])])
    public var metadata: [String: String] = [:]
    public var timeInfo: TimeInfo?

    public init(id: String, createdAt: Int, status: String, model: String, output: [OutputItem], usage: ResponseUsage?,
                incompleteDetails: [String: String]?, instructions: String?, maxOutputTokens: Int?, temperature: Double?, topP: Double?,
                timeInfo: TimeInfo?) {
        self.id = id
        self.createdAt = createdAt
        self.status = status
        self.model = model
        self.output = output
        self.usage = usage
        self.incompleteDetails = incompleteDetails
        self.instructions = instructions
        self.maxOutputTokens = maxOutputTokens
        self.temperature = temperature
        self.topP = topP
        self.timeInfo = timeInfo
    }

    enum CodingKeys: String, CodingKey {
        case id, object, createdAt, status, model, output, usage, incompleteDetails, error, instructions, maxOutputTokens
        case parallelToolCalls, temperature, topP, toolChoice, tools, text, metadata, timeInfo
    }

    /// Explicit nulls where OpenAI sends them.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(object, forKey: .object)
        try c.encode(createdAt, forKey: .createdAt)
        try c.encode(status, forKey: .status)
        try c.encode(model, forKey: .model)
        try c.encode(output, forKey: .output)
        try c.encode(usage, forKey: .usage)
        try c.encode(incompleteDetails, forKey: .incompleteDetails)
        try c.encode(error, forKey: .error)
        try c.encode(instructions, forKey: .instructions)
        try c.encode(maxOutputTokens, forKey: .maxOutputTokens)
        try c.encode(parallelToolCalls, forKey: .parallelToolCalls)
        try c.encode(temperature, forKey: .temperature)
        try c.encode(topP, forKey: .topP)
        try c.encode(toolChoice, forKey: .toolChoice)
        try c.encode(tools, forKey: .tools)
        try c.encode(text, forKey: .text)
        try c.encode(metadata, forKey: .metadata)
        try c.encodeIfPresent(timeInfo, forKey: .timeInfo)
    }
}

/// An output item: an assistant message, or a function call.
public struct OutputItem: Encodable, Sendable {
    public struct Content: Encodable, Sendable {
        public var type = "output_text"
        public var text: String
        public var annotations: [String] = []
        public init(text: String) { self.text = text }
    }
    public var type: String
    public var id: String
    public var status = "completed"
    public var role: String?
    public var content: [Content]?
    public var callId: String?
    public var name: String?
    public var arguments: String?

    public init(type: String, id: String, status: String = "completed", role: String? = nil, content: [Content]? = nil,
                callId: String? = nil, name: String? = nil, arguments: String? = nil) {
        self.type = type
        self.id = id
        self.status = status
        self.role = role
        self.content = content
        self.callId = callId
        self.name = name
        self.arguments = arguments
    }

    public static func message(id: String, text: String) -> OutputItem {
        OutputItem(type: "message", id: id, role: "assistant", content: [Content(text: text)])
    }

    public static func functionCall(id: String, callID: String, name: String, arguments: String) -> OutputItem {
        OutputItem(type: "function_call", id: id, callId: callID, name: name, arguments: arguments)
    }
}

public struct ResponseUsage: Encodable, Sendable {
    public var inputTokens: Int
    public var outputTokens: Int
    public var totalTokens: Int
    public var inputTokensDetails: [String: Int]
    public var outputTokensDetails = ["reasoning_tokens": 0]
    public var costUsd: Decimal?
    public var cost: Decimal?

    public init(_ usage: Usage) {
        inputTokens = usage.promptTokens
        outputTokens = usage.completionTokens
        totalTokens = usage.totalTokens
        inputTokensDetails = ["cached_tokens": usage.promptTokensDetails.cachedTokens]
        costUsd = usage.costUsd
        cost = usage.costUsd
    }
}
