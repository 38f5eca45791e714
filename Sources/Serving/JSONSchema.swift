import OpenAI

/// A JSON Schema compiled into what generation follows: a graph of nodes
/// (`$ref`s resolved, so recursive schemas work). Objects are generated with
/// their properties in a fixed order (the required ones as `required` lists
/// them, then the optional ones by name), optional ones skippable; only
/// declared properties are produced.
struct JSONSchema: Sendable {
    struct Property: Sendable {
        /// `"name"` as it appears in the output.
        let key: [UInt8]
        let node: Int
        let required: Bool
    }

    enum Node: Sendable {
        case any
        case object([Property])
        case array(items: Int, min: Int, max: Int?)
        /// A string of `min`...`max` characters (Unicode scalars).
        case string(min: Int, max: Int?)
        case number, integer, boolean, null
        /// `enum` / `const`: the values' JSON text.
        case literals([[UInt8]])
        case anyOf([Int])
    }

    private(set) var nodes: [Node] = []
    private(set) var root = 0

    /// Keywords that change nothing generated (annotations).
    static let annotations: Set<String> = ["title", "description", "default", "examples", "$schema", "$id", "$comment", "deprecated",
                                           "readOnly", "writeOnly"]
    /// Keywords this compiler enforces.
    static let supported: Set<String> = ["type", "properties", "required", "additionalProperties", "items", "minItems", "maxItems",
                                         "enum", "const", "anyOf", "oneOf", "$ref", "$defs", "definitions", "nullable",
                                         "minLength", "maxLength"]

    struct Unsupported: Error, CustomStringConvertible {
        let keyword: String
        let path: String
        var description: String { "the JSON Schema keyword '\(keyword)' (at \(path)) is not supported" }
    }

    init(_ schema: JSONValue) throws(Unsupported) {
        var compiler = Compiler(document: schema)
        root = try compiler.compile(schema, path: "#")
        nodes = compiler.nodes
    }

    private struct Compiler {
        let document: JSONValue
        var nodes: [Node] = []
        var refs: [String: Int] = [:]

        mutating func add(_ node: Node) -> Int {
            nodes.append(node)
            return nodes.count - 1
        }

        mutating func compile(_ schema: JSONValue, path: String) throws(Unsupported) -> Int {
            if case .bool(true) = schema { return add(.any) }
            guard case .object(let s) = schema else { throw Unsupported(keyword: "a schema that is not an object", path: path) }
            for key in s.keys.sorted() where !JSONSchema.supported.contains(key) && !JSONSchema.annotations.contains(key) {
                throw Unsupported(keyword: key, path: path)
            }
            if case .string(let ref)? = s["$ref"] { return try resolve(ref, path: path) }
            if case .bool(true)? = s["nullable"] {
                var rest = s
                rest["nullable"] = nil
                let inner = try compile(.object(rest), path: path)
                return add(.anyOf([inner, add(.null)]))
            }
            if let choices = s["anyOf"] ?? s["oneOf"] {
                guard case .array(let options) = choices, !options.isEmpty else { throw Unsupported(keyword: "anyOf", path: path) }
                var indices: [Int] = []
                for (i, option) in options.enumerated() { indices.append(try compile(option, path: "\(path)/anyOf/\(i)")) }
                return add(.anyOf(indices))
            }
            if let value = s["const"] { return add(.literals([Array(value.canonicalJSON.utf8)])) }
            if let values = s["enum"] {
                guard case .array(let list) = values, !list.isEmpty else { throw Unsupported(keyword: "enum", path: path) }
                return add(.literals(list.map { Array($0.canonicalJSON.utf8) }))
            }
            switch s["type"] {
            case .array(let types)?:
                var indices: [Int] = []
                for type in types {
                    var single = s
                    single["type"] = type
                    indices.append(try compile(.object(single), path: path))
                }
                return add(.anyOf(indices))
            case .string(let type)?:
                return try typed(type, s, path: path)
            case nil:
                return s["properties"] != nil ? try typed("object", s, path: path) : add(.any)
            default:
                throw Unsupported(keyword: "type", path: path)
            }
        }

        mutating func typed(_ type: String, _ s: [String: JSONValue], path: String) throws(Unsupported) -> Int {
            switch type {
            case "string": return add(.string(min: s["minLength"]?.int ?? 0, max: s["maxLength"]?.int))
            case "number": return add(.number)
            case "integer": return add(.integer)
            case "boolean": return add(.boolean)
            case "null": return add(.null)
            case "array":
                let items = try s["items"].map { (item) throws(Unsupported) in try compile(item, path: "\(path)/items") } ?? add(.any)
                return add(.array(items: items, min: s["minItems"]?.int ?? 0, max: s["maxItems"]?.int))
            case "object":
                if let extra = s["additionalProperties"], case .bool = extra {} else if s["additionalProperties"] != nil {
                    throw Unsupported(keyword: "additionalProperties (as a schema)", path: path)
                }
                guard case .object(let properties)? = s["properties"] ?? .object([:]) else { throw Unsupported(keyword: "properties", path: path) }
                var required: [String] = []
                if case .array(let names)? = s["required"] {
                    for case .string(let name) in names where properties[name] != nil && !required.contains(name) { required.append(name) }
                }
                let order = required + properties.keys.filter { !required.contains($0) }.sorted()
                var compiled: [Property] = []
                for name in order {
                    compiled.append(Property(key: Array(JSONValue.string(name).canonicalJSON.utf8),
                                             node: try compile(properties[name]!, path: "\(path)/properties/\(name)"),
                                             required: required.contains(name)))
                }
                if properties.isEmpty, s["additionalProperties"] != .bool(false) { return add(.any) }
                return add(.object(compiled))
            default:
                throw Unsupported(keyword: "type '\(type)'", path: path)
            }
        }

        /// `#/$defs/Name` or `#/definitions/Name`, compiled once (a recursive reference finds its own index).
        mutating func resolve(_ ref: String, path: String) throws(Unsupported) -> Int {
            if let index = refs[ref] { return index }
            let parts = ref.split(separator: "/").map(String.init)
            guard parts.count == 3, parts[0] == "#", ["$defs", "definitions"].contains(parts[1]),
                  let target = document[parts[1]]?[parts[2]] else { throw Unsupported(keyword: "$ref '\(ref)'", path: path) }
            // A placeholder first, so that the definition may refer to itself.
            let index = add(.anyOf([]))
            refs[ref] = index
            let body = try compile(target, path: ref)
            nodes[index] = .anyOf([body])
            return index
        }
    }
}

private extension JSONValue {
    var int: Int? {
        if case .number(let n) = self, n >= 0, n == n.rounded(), n < 1e9 { return Int(n) }
        return nil
    }
}
