import Testing
import Jinja

/// One rendering whose expected bytes came from Python jinja2 under Hugging
/// Face's settings (see Tests/Fixtures/templates/README.md).
struct GoldenCase: Sendable, CustomTestStringConvertible {
    let fixture: TemplateValue

    var testDescription: String {
        let name = fixture["template"].string ?? fixture["name"].string ?? "?"
        let variant = fixture["case"].string.map { "/\($0)" } ?? ""
        let prompt = fixture["add_generation_prompt"] == .bool(true) ? "+prompt" : ""
        return name + variant + prompt
    }

    /// Either the exact output or the raise_exception message.
    var expected: Result<String, TemplateError> {
        if let message = fixture["error"].string { return .failure(.raised(message)) }
        return .success(fixture["expected"].string ?? "")
    }
}

private func render(_ template: ChatTemplate, _ fixture: TemplateValue, variables: TemplateValue) -> Result<String, TemplateError> {
    var messages: [ChatMessage] = []
    if case .array(let items) = fixture["messages"] {
        messages = items.map { ChatMessage(role: $0["role"].string ?? "", content: $0["content"].string ?? "") }
    }
    var extra: [String: TemplateValue] = [:]
    if case .object(let pairs) = variables { for (key, value) in pairs { extra[key] = value } }
    do {
        return .success(try template.render(
            messages: messages, addGenerationPrompt: fixture["add_generation_prompt"] == .bool(true),
            bosToken: fixture["bos_token"].string ?? "", eosToken: fixture["eos_token"].string ?? "", extra: extra))
    } catch {
        return .failure(error)
    }
}

@Suite struct ChatTemplateGoldenTests {
    static let modelCases = TemplateFixtures.cases("goldens.json").map(GoldenCase.init)
    static let constructCases = TemplateFixtures.cases("constructs.json").map(GoldenCase.init)

    @Test func fixturesArePresent() {
        #expect(Self.modelCases.count >= 80)
        #expect(Self.constructCases.count >= 50)
        for name in ["smollm2", "llama3", "llama31", "mistral_v02", "mistral_v03", "qwen2"] {
            #expect(Self.modelCases.contains { $0.fixture["template"].string == name }, "no goldens for \(name)")
        }
    }

    /// Real model templates over several conversations, byte for byte.
    @Test(arguments: modelCases)
    func modelTemplate(_ golden: GoldenCase) throws {
        let name = try #require(golden.fixture["template"].string)
        let template = try ChatTemplate(source: TemplateFixtures.text(name + ".jinja"))
        let actual = render(template, golden.fixture, variables: golden.fixture["extra"])
        #expect(actual == golden.expected)
    }

    /// Small templates that each exercise one construct, byte for byte.
    @Test(arguments: constructCases)
    func construct(_ golden: GoldenCase) throws {
        let source = try #require(golden.fixture["source"].string)
        if let failure = golden.fixture["failure"].string {
            try expectFailure(source, golden, jinjaError: failure)
            return
        }
        let template = try ChatTemplate(source: source)
        let actual = render(template, golden.fixture, variables: golden.fixture["variables"])
        #expect(actual == golden.expected)
    }

    /// jinja2 rejects these; we must throw too, at parse time for syntax
    /// errors, and never as if the template had called raise_exception.
    private func expectFailure(_ source: String, _ golden: GoldenCase, jinjaError: String) throws {
        let template: ChatTemplate
        do {
            template = try ChatTemplate(source: source)
        } catch {
            #expect(jinjaError != "TemplateRuntimeError" && jinjaError != "UndefinedError", "parse failed: \(error)")
            return
        }
        #expect(jinjaError != "TemplateSyntaxError", "jinja2 rejects this at parse time")
        let result = render(template, golden.fixture, variables: golden.fixture["variables"])
        switch result {
        case .success(let output): Issue.record("expected \(jinjaError), rendered \(output.debugDescription)")
        case .failure(.raised(let message)): Issue.record("expected \(jinjaError), got raise_exception(\(message))")
        case .failure: break
        }
    }
}
