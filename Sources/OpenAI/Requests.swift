import Foundation

/// The generation fields chat and completion requests share: OpenAI's, plus
/// `top_k`, `min_p`, `repeat_penalty`, `repeat_last_n` and `ignore_eos` as
/// llama.cpp's server names them. Unknown fields are ignored.
public struct GenerationFields: Decodable, Sendable {
    public var maxTokens: Int?
    /// Which field `maxTokens` came from (`max_completion_tokens` wins), for errors.
    public var maxTokensField = "max_tokens"
    public var temperature: Double?
    public var topP: Double?
    public var n: Int?
    public var stream: Bool?
    public var streamOptions: StreamOptions?
    public var stop: StopSequences?
    public var seed: Int64?
    public var presencePenalty: Double?
    public var frequencyPenalty: Double?
    public var logitBias: [String: Double]?
    public var user: String?
    public var topK: Int?
    public var minP: Double?
    public var repeatPenalty: Double?
    public var repeatLastN: Int?
    public var ignoreEOS: Bool?

    public struct StreamOptions: Decodable, Sendable {
        public var includeUsage: Bool?
        enum CodingKeys: String, CodingKey { case includeUsage = "include_usage" }
    }

    enum CodingKeys: String, CodingKey {
        case maxTokens = "max_tokens", maxCompletionTokens = "max_completion_tokens", temperature, topP = "top_p", n, stream
        case streamOptions = "stream_options", stop, seed, presencePenalty = "presence_penalty"
        case frequencyPenalty = "frequency_penalty", logitBias = "logit_bias", user, topK = "top_k", minP = "min_p"
        case repeatPenalty = "repeat_penalty", repeatLastN = "repeat_last_n", ignoreEOS = "ignore_eos"
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        if let value = try c.decodeIfPresent(Int.self, forKey: .maxCompletionTokens) {
            maxTokens = value
            maxTokensField = "max_completion_tokens"
        } else {
            maxTokens = try c.decodeIfPresent(Int.self, forKey: .maxTokens)
        }
        temperature = try c.decodeIfPresent(Double.self, forKey: .temperature)
        topP = try c.decodeIfPresent(Double.self, forKey: .topP)
        n = try c.decodeIfPresent(Int.self, forKey: .n)
        stream = try c.decodeIfPresent(Bool.self, forKey: .stream)
        streamOptions = try c.decodeIfPresent(StreamOptions.self, forKey: .streamOptions)
        stop = try c.decodeIfPresent(StopSequences.self, forKey: .stop)
        seed = try c.decodeIfPresent(Int64.self, forKey: .seed)
        presencePenalty = try c.decodeIfPresent(Double.self, forKey: .presencePenalty)
        frequencyPenalty = try c.decodeIfPresent(Double.self, forKey: .frequencyPenalty)
        logitBias = try c.decodeIfPresent([String: Double].self, forKey: .logitBias)
        user = try c.decodeIfPresent(String.self, forKey: .user)
        topK = try c.decodeIfPresent(Int.self, forKey: .topK)
        minP = try c.decodeIfPresent(Double.self, forKey: .minP)
        repeatPenalty = try c.decodeIfPresent(Double.self, forKey: .repeatPenalty)
        repeatLastN = try c.decodeIfPresent(Int.self, forKey: .repeatLastN)
        ignoreEOS = try c.decodeIfPresent(Bool.self, forKey: .ignoreEOS)
    }
}

/// `stop`: one string or an array of strings.
public struct StopSequences: Decodable, Sendable {
    public var values: [String]
    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let one = try? c.decode(String.self) {
            values = [one]
        } else {
            values = try c.decode([String].self)
        }
    }
}

/// `response_format`: free text, any JSON object, or JSON matching a schema
/// (`json_schema.schema`, or a top-level `schema` as some clients send it).
public struct ResponseFormat: Codable, Sendable {
    public enum Kind: String, Codable, Sendable { case text, jsonObject = "json_object", jsonSchema = "json_schema" }
    public struct SchemaSpec: Codable, Sendable {
        public var name: String?
        public var schema: JSONValue?
        public var strict: Bool?
        public init(name: String?, schema: JSONValue?, strict: Bool?) {
            self.name = name
            self.schema = schema
            self.strict = strict
        }
    }
    public var type: Kind
    public var jsonSchema: SchemaSpec?
    public var schema: JSONValue?

    public init(type: Kind, jsonSchema: SchemaSpec? = nil, schema: JSONValue? = nil) {
        self.type = type
        self.jsonSchema = jsonSchema
        self.schema = schema
    }

    enum CodingKeys: String, CodingKey { case type, jsonSchema = "json_schema", schema }
}

/// A function the model may call (`tools[i]`).
public struct Tool: Codable, Sendable {
    public struct Function: Codable, Sendable {
        public var name: String
        public var description: String?
        /// A JSON Schema of the arguments object.
        public var parameters: JSONValue?
    }
    public var type: String
    public var function: Function
}

/// `tool_choice`: `none`, `auto`, `required`, or one named function.
public enum ToolChoice: Codable, Sendable, Equatable {
    case none, auto, required
    case function(String)

    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let word = try? c.decode(String.self) {
            switch word {
            case "none": self = .none
            case "auto": self = .auto
            case "required": self = .required
            default:
                throw DecodingError.dataCorruptedError(in: c, debugDescription: "'\(word)' is not none, auto, required or a function.")
            }
            return
        }
        struct Named: Decodable { struct Function: Decodable { let name: String }; let function: Function }
        self = .function(try c.decode(Named.self).function.name)
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .none: try c.encode("none")
        case .auto: try c.encode("auto")
        case .required: try c.encode("required")
        case .function(let name): try c.encode(["type": JSONValue.string("function"), "function": .object(["name": .string(name)])])
        }
    }
}

/// A call the model made (`message.tool_calls[i]`), as it comes back in an assistant message.
public struct ToolCall: Codable, Sendable {
    public struct Function: Codable, Sendable {
        public var name: String
        /// The arguments object as JSON text.
        public var arguments: String
        public init(name: String, arguments: String) {
            self.name = name
            self.arguments = arguments
        }
    }
    public var id: String
    public var type = "function"
    public var function: Function
    public init(id: String, function: Function) {
        self.id = id
        self.function = function
    }
}

/// `POST /v1/chat/completions`.
public struct ChatCompletionRequest: Decodable, Sendable {
    public var model: String
    public var messages: [Message]
    public var logprobs: Bool?
    public var topLogprobs: Int?
    public var responseFormat: ResponseFormat?
    public var tools: [Tool]?
    public var toolChoice: ToolChoice?
    public var parallelToolCalls: Bool?
    public var fields: GenerationFields

    public struct Message: Decodable, Sendable {
        public var role: String
        /// Text content; an array of text parts is joined. Null for an assistant turn that only called tools.
        public var content: String
        /// An assistant turn's calls; a `tool` turn's answer names the call it answers.
        public var toolCalls: [ToolCall]?
        public var toolCallID: String?
        public var name: String?

        enum CodingKeys: String, CodingKey { case role, content, toolCalls = "tool_calls", toolCallID = "tool_call_id", name }
        struct Part: Decodable { let type: String; let text: String? }

        /// The roles OpenAI's chat API takes.
        public static let roles: Set<String> = ["system", "developer", "user", "assistant", "tool", "function"]

        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            role = try c.decode(String.self, forKey: .role)
            guard Self.roles.contains(role) else {
                throw DecodingError.dataCorruptedError(forKey: .role, in: c, debugDescription:
                    "'\(role)' is not a role; use one of \(Self.roles.sorted().joined(separator: ", ")).")
            }
            toolCalls = try c.decodeIfPresent([ToolCall].self, forKey: .toolCalls)
            toolCallID = try c.decodeIfPresent(String.self, forKey: .toolCallID)
            name = try c.decodeIfPresent(String.self, forKey: .name)
            // Only an assistant turn that called tools may leave its content out.
            if !c.contains(.content), toolCalls == nil {
                throw DecodingError.keyNotFound(CodingKeys.content, .init(codingPath: c.codingPath, debugDescription: "content is missing"))
            }
            if try !c.contains(.content) || c.decodeNil(forKey: .content) {
                content = ""
            } else if let text = try decodeIfString(c, .content) {
                content = text
            } else {
                let parts = try c.decode([Part].self, forKey: .content)
                content = try parts.map { part in
                    guard part.type == "text", let text = part.text else {
                        throw APIError.invalidRequest("Only text content parts are supported; got a part of type '\(part.type)'.",
                                                      param: "messages", code: "unsupported_content")
                    }
                    return text
                }.joined()
            }
        }
    }

    enum CodingKeys: String, CodingKey {
        case model, messages, logprobs, topLogprobs = "top_logprobs", responseFormat = "response_format", tools
        case toolChoice = "tool_choice", parallelToolCalls = "parallel_tool_calls"
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        model = try c.decode(String.self, forKey: .model)
        messages = try c.decode([Message].self, forKey: .messages)
        logprobs = try c.decodeIfPresent(Bool.self, forKey: .logprobs)
        topLogprobs = try c.decodeIfPresent(Int.self, forKey: .topLogprobs)
        responseFormat = try c.decodeIfPresent(ResponseFormat.self, forKey: .responseFormat)
        tools = try c.decodeIfPresent([Tool].self, forKey: .tools)
        toolChoice = try c.decodeIfPresent(ToolChoice.self, forKey: .toolChoice)
        parallelToolCalls = try c.decodeIfPresent(Bool.self, forKey: .parallelToolCalls)
        fields = try GenerationFields(from: decoder)
    }
}

/// `POST /v1/completions`.
public struct CompletionRequest: Decodable, Sendable {
    public var model: String
    public var prompt: Prompt
    public var echo: Bool?
    /// Number of most likely alternatives to report per token (0...5 at OpenAI).
    public var logprobs: Int?
    /// As in chat (a Wafer extension here, as llama.cpp's server has it): each choice's text follows it.
    public var responseFormat: ResponseFormat?
    public var fields: GenerationFields

    /// A string, an array of strings, an array of token ids, or an array of those arrays.
    public enum Prompt: Decodable, Sendable {
        case texts([String])
        case tokens([[Int32]])

        public init(from decoder: Decoder) throws {
            let c = try decoder.singleValueContainer()
            if let text = try decodeIfString(c) {
                self = .texts([text])
            } else if let texts = try? c.decode([String].self) {
                self = .texts(texts)
            } else if let ids = try? c.decode([Int32].self) {
                self = .tokens([ids])
            } else if let batches = try? c.decode([[Int32]].self) {
                self = .tokens(batches)
            } else {
                throw DecodingError.typeMismatch(String.self, DecodingError.Context(
                    codingPath: decoder.codingPath, debugDescription: "a string, strings, token ids or arrays of token ids"))
            }
        }
    }

    enum CodingKeys: String, CodingKey { case model, prompt, echo, logprobs, responseFormat = "response_format" }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        model = try c.decode(String.self, forKey: .model)
        prompt = try c.decode(Prompt.self, forKey: .prompt)
        echo = try c.decodeIfPresent(Bool.self, forKey: .echo)
        logprobs = try c.decodeIfPresent(Int.self, forKey: .logprobs)
        responseFormat = try c.decodeIfPresent(ResponseFormat.self, forKey: .responseFormat)
        fields = try GenerationFields(from: decoder)
    }
}

/// The value as a string, nil if it is of another type; a string that is not
/// text (invalid UTF-8, a lone surrogate) is an error naming the field, not
/// "wrong type" from whatever alternative is tried next.
func decodeIfString<K: CodingKey>(_ c: KeyedDecodingContainer<K>, _ key: K) throws -> String? {
    do { return try c.decode(String.self, forKey: key) } catch DecodingError.typeMismatch { return nil }
}

func decodeIfString(_ c: SingleValueDecodingContainer) throws -> String? {
    do { return try c.decode(String.self) } catch DecodingError.typeMismatch { return nil }
}

extension JSONDecoder {
    /// Decodes a request body; any failure becomes the 400 that names the field.
    public static func request<T: Decodable>(_ type: T.Type, from body: Data) throws(APIError) -> T {
        if let key = DuplicateKeys.first(in: body) {
            throw APIError.invalidRequest("The key '\(key)' appears twice in one object; send each key once.", param: key,
                                          code: "duplicate_key")
        }
        do {
            return try JSONDecoder().decode(type, from: body)
        } catch DecodingError.typeMismatch(_, let context) where context.codingPath.isEmpty {
            throw APIError.invalidRequest("The request body must be a JSON object.", code: "invalid_json")
        } catch DecodingError.dataCorrupted(let context) where context.codingPath.isEmpty
                    && (try? JSONSerialization.jsonObject(with: body)) != nil {
            // Foundation reports a fraction where an integer belongs as corrupt data, without naming the field.
            throw APIError.invalidRequest("A field has a value of the wrong type (such as a fraction where an integer is expected).",
                                          code: "invalid_type")
        } catch {
            throw APIError(decoding: error)
        }
    }
}
