import Testing
@testable import Engine

@Suite struct SamplingParametersTests {
    @Test func defaultsAreValid() throws {
        try SamplingParameters().validate(vocabularySize: 10)
        try SamplingParameters(temperature: 0, topK: 5, topP: 0.5, minP: 1, presencePenalty: -2, frequencyPenalty: 2,
                               repeatPenalty: 1.3, logitBias: [0: -100, 9: 100], logprobs: 20)
            .validate(vocabularySize: 10)
    }

    /// Each invalid value is rejected with the error naming its field.
    @Test(arguments: [
        (SamplingParameters(temperature: -0.1), SamplingError.temperature(-0.1), "temperature"),
        (SamplingParameters(temperature: 2.5), .temperature(2.5), "temperature"),
        (SamplingParameters(temperature: .nan), nil, "temperature"),
        (SamplingParameters(topK: -1), .topK(-1), "top_k"),
        (SamplingParameters(topP: 0), .topP(0), "top_p"),
        (SamplingParameters(topP: 1.01), .topP(1.01), "top_p"),
        (SamplingParameters(minP: -0.1), .minP(-0.1), "min_p"),
        (SamplingParameters(minP: 1.5), .minP(1.5), "min_p"),
        (SamplingParameters(presencePenalty: 2.1), .presencePenalty(2.1), "presence_penalty"),
        (SamplingParameters(frequencyPenalty: -3), .frequencyPenalty(-3), "frequency_penalty"),
        (SamplingParameters(repeatPenalty: 0), .repeatPenalty(0), "repeat_penalty"),
        (SamplingParameters(repeatPenalty: -1), .repeatPenalty(-1), "repeat_penalty"),
        (SamplingParameters(repeatLastN: -1), .repeatLastN(-1), "repeat_last_n"),
        (SamplingParameters(logitBias: [10: 1]), .logitBiasToken(10, vocabularySize: 10), "logit_bias"),
        (SamplingParameters(logitBias: [-1: 1]), .logitBiasToken(-1, vocabularySize: 10), "logit_bias"),
        (SamplingParameters(logitBias: [3: 100.5]), .logitBiasValue(token: 3, 100.5), "logit_bias"),
        (SamplingParameters(logprobs: 21), .logprobs(21), "top_logprobs"),
        (SamplingParameters(logprobs: -1), .logprobs(-1), "top_logprobs"),
    ] as [(SamplingParameters, SamplingError?, String)])
    func rejects(parameters: SamplingParameters, expected: SamplingError?, field: String) {
        #expect {
            try parameters.validate(vocabularySize: 10)
        } throws: { error in
            guard let error = error as? SamplingError else { return false }
            // NaN never equals itself, so that case checks the field only.
            return (expected == nil || error == expected) && error.field == field
                && error.description.hasPrefix(field) && !error.description.contains("\n")
        }
    }
}
