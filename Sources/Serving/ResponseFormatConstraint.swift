import Engine
import OpenAI

extension ResponseFormat {
    /// The constraint each choice of a request with this format samples under; nil for free text.
    /// A schema that uses something the compiler does not support is a 400 naming it.
    func constraint(_ vocabulary: TokenBytes, param: String = "response_format.json_schema.schema") throws(APIError)
        -> (@Sendable () -> any TokenConstraint)? {
        switch type {
        case .text:
            return nil
        case .jsonObject:
            return { ByteGrammarConstraint(JSONGrammar(), vocabulary: vocabulary, masks: vocabulary.jsonObjectMasks) }
        case .jsonSchema:
            guard let document = jsonSchema?.schema ?? schema else {
                throw .invalidRequest("response_format json_schema needs json_schema.schema.", param: "response_format.json_schema.schema",
                                      code: "missing_required_parameter")
            }
            let compiled: (schema: JSONSchema, masks: MaskCache<SchemaMatcher>)
            do { compiled = try vocabulary.grammar(for: document) } catch {
                throw .invalidRequest("\(param.split(separator: ".")[0]): \(error).", param: param, code: "unsupported_schema")
            }
            return { ByteGrammarConstraint(SchemaMatcher(schema: compiled.schema), vocabulary: vocabulary, masks: compiled.masks) }
        }
    }
}
