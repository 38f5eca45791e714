import Foundation

/// Encodes response bodies with OpenAI's snake_case keys.
public enum WireJSON {
    public static func encode<T: Encodable>(_ value: T) -> Data {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.withoutEscapingSlashes, .sortedKeys]
        return (try? encoder.encode(value)) ?? Data("{}".utf8)
    }
}

public struct Usage: Encodable, Sendable {
    public var promptTokens: Int
    public var completionTokens: Int
    public var totalTokens: Int
    public var promptTokensDetails: PromptTokensDetails
    /// Wafer's meter: the flat rate applied and the exact cost (absent when unmetered).
    public var costUsd: Decimal?
    public var priceUsdPerMtok: Decimal?
    /// The same cost under the name litellm and OpenRouter clients read.
    public var cost: Decimal?
    /// Served upstream: its split rates (the flat `price_usd_per_mtok` is then absent).
    public var promptPriceUsdPerMtok: Decimal?
    public var completionPriceUsdPerMtok: Decimal?

    public struct PromptTokensDetails: Encodable, Sendable {
        public var cachedTokens: Int
    }

    public init(promptTokens: Int, completionTokens: Int, cachedTokens: Int, costUsd: Decimal? = nil, priceUsdPerMtok: Decimal? = nil) {
        self.promptTokens = promptTokens
        self.completionTokens = completionTokens
        totalTokens = promptTokens + completionTokens
        promptTokensDetails = PromptTokensDetails(cachedTokens: cachedTokens)
        self.costUsd = costUsd
        self.priceUsdPerMtok = priceUsdPerMtok
        cost = costUsd
    }
}

/// Cerebras' `time_info`: seconds spent queued, on the prompt, on the completion, in all; `created` in Unix seconds.
public struct TimeInfo: Encodable, Sendable {
    public var queueTime: Double
    public var promptTime: Double
    public var completionTime: Double
    public var totalTime: Double
    public var created: Double

    public init(queueTime: Double, promptTime: Double, completionTime: Double, totalTime: Double, created: Double) {
        self.queueTime = queueTime
        self.promptTime = promptTime
        self.completionTime = completionTime
        self.totalTime = totalTime
        self.created = created
    }
}

/// One token's log-probability as chat completions report it.
public struct TokenLogprobInfo: Encodable, Sendable {
    public var token: String
    public var logprob: Float
    public var bytes: [UInt8]
    public var topLogprobs: [Alternative]?

    public struct Alternative: Encodable, Sendable {
        public var token: String
        public var logprob: Float
        public var bytes: [UInt8]
        public init(token: String, logprob: Float, bytes: [UInt8]) {
            self.token = token
            self.logprob = logprob
            self.bytes = bytes
        }
    }

    public init(token: String, logprob: Float, bytes: [UInt8], topLogprobs: [Alternative]?) {
        self.token = token
        self.logprob = logprob
        self.bytes = bytes
        self.topLogprobs = topLogprobs
    }
}

public struct ChatLogprobs: Encodable, Sendable {
    public var content: [TokenLogprobInfo]
    public init(content: [TokenLogprobInfo]) { self.content = content }
}

public struct ChatCompletion: Encodable, Sendable {
    public var id: String
    public var object = "chat.completion"
    public var created: Int
    public var model: String
    public var choices: [Choice]
    public var usage: Usage
    public var timeInfo: TimeInfo

    public struct Choice: Encodable, Sendable {
        public var index: Int
        public var message: Message
        public var logprobs: ChatLogprobs?
        public var finishReason: String
        public init(index: Int, message: Message, logprobs: ChatLogprobs?, finishReason: String) {
            self.index = index
            self.message = message
            self.logprobs = logprobs
            self.finishReason = finishReason
        }
    }

    public struct Message: Encodable, Sendable {
        public var role = "assistant"
        /// Null when the turn only called tools.
        public var content: String?
        public var toolCalls: [ToolCall]?
        public init(content: String?, toolCalls: [ToolCall]? = nil) {
            self.content = content
            self.toolCalls = toolCalls
        }

        enum CodingKeys: String, CodingKey { case role, content, toolCalls }
        public func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(role, forKey: .role)
            try c.encode(content, forKey: .content)  // an explicit null, as OpenAI sends it
            try c.encodeIfPresent(toolCalls, forKey: .toolCalls)
        }
    }

    public init(id: String, created: Int, model: String, choices: [Choice], usage: Usage, timeInfo: TimeInfo) {
        self.id = id
        self.created = created
        self.model = model
        self.choices = choices
        self.usage = usage
        self.timeInfo = timeInfo
    }
}

public struct ChatCompletionChunk: Encodable, Sendable {
    public var id: String
    public var object = "chat.completion.chunk"
    public var created: Int
    public var model: String
    public var choices: [Choice]
    public var usage: Usage?
    public var timeInfo: TimeInfo?

    public struct Choice: Encodable, Sendable {
        public var index: Int
        public var delta: Delta
        public var logprobs: ChatLogprobs?
        public var finishReason: String?
        public init(index: Int, delta: Delta, logprobs: ChatLogprobs? = nil, finishReason: String? = nil) {
            self.index = index
            self.delta = delta
            self.logprobs = logprobs
            self.finishReason = finishReason
        }
    }

    public struct Delta: Encodable, Sendable {
        public var role: String?
        public var content: String?
        public var toolCalls: [ToolCallDelta]?
        public init(role: String? = nil, content: String? = nil, toolCalls: [ToolCallDelta]? = nil) {
            self.role = role
            self.content = content
            self.toolCalls = toolCalls
        }
    }

    /// A streamed call: keyed by `index`, id and name in its first delta,
    /// argument text in that one and the ones after (which carry neither).
    public struct ToolCallDelta: Encodable, Sendable {
        public struct Function: Encodable, Sendable {
            public var name: String?
            public var arguments: String
        }
        public var index: Int
        public var id: String?
        public var type: String?
        public var function: Function

        /// The opening delta of call `index`.
        public init(index: Int, id: String, name: String, arguments: String = "") {
            self.index = index
            self.id = id
            type = "function"
            function = Function(name: name, arguments: arguments)
        }

        /// More argument text of call `index`.
        public init(index: Int, arguments: String) {
            self.index = index
            function = Function(name: nil, arguments: arguments)
        }
    }

    public init(id: String, created: Int, model: String, choices: [Choice], usage: Usage? = nil, timeInfo: TimeInfo? = nil) {
        self.id = id
        self.created = created
        self.model = model
        self.choices = choices
        self.usage = usage
        self.timeInfo = timeInfo
    }
}

/// Legacy completions' logprobs: parallel arrays over the tokens.
public struct CompletionLogprobs: Encodable, Sendable {
    public var tokens: [String] = []
    public var tokenLogprobs: [Float] = []
    public var topLogprobs: [[String: Float]] = []
    public var textOffset: [Int] = []
    public init() {}
}

public struct TextCompletion: Encodable, Sendable {
    public var id: String
    public var object = "text_completion"
    public var created: Int
    public var model: String
    public var choices: [Choice]
    public var usage: Usage?
    public var timeInfo: TimeInfo?

    public struct Choice: Encodable, Sendable {
        public var text: String
        public var index: Int
        public var logprobs: CompletionLogprobs?
        public var finishReason: String?
        public init(text: String, index: Int, logprobs: CompletionLogprobs?, finishReason: String?) {
            self.text = text
            self.index = index
            self.logprobs = logprobs
            self.finishReason = finishReason
        }
    }

    public init(id: String, created: Int, model: String, choices: [Choice], usage: Usage?, timeInfo: TimeInfo?) {
        self.id = id
        self.created = created
        self.model = model
        self.choices = choices
        self.usage = usage
        self.timeInfo = timeInfo
    }
}

public struct ModelObject: Encodable, Sendable {
    public var id: String
    public var object = "model"
    public var created: Int
    public var ownedBy: String
    public var contextLength: Int
    /// The on-demand flat rate, when the server meters.
    public var priceUsdPerMtok: Decimal?
    public init(id: String, created: Int, ownedBy: String, contextLength: Int, priceUsdPerMtok: Decimal?) {
        self.id = id
        self.created = created
        self.ownedBy = ownedBy
        self.contextLength = contextLength
        self.priceUsdPerMtok = priceUsdPerMtok
    }
}

public struct ModelList: Encodable, Sendable {
    public var object = "list"
    public var data: [ModelObject]
    public init(data: [ModelObject]) { self.data = data }
}
