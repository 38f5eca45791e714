import Foundation
import Testing
import Jinja

private func render(_ source: String, _ messages: [ChatMessage] = [], addGenerationPrompt: Bool = false,
                    extra: [String: TemplateValue] = [:]) throws(TemplateError) -> String
{
    try ChatTemplate(source: source).render(messages: messages, addGenerationPrompt: addGenerationPrompt,
                                            bosToken: "<s>", eosToken: "</s>", extra: extra)
}

private func error(_ source: String, extra: [String: TemplateValue] = [:]) -> TemplateError? {
    do {
        _ = try render(source, extra: extra)
        return nil
    } catch {
        return error
    }
}

@Suite struct ChatTemplateTests {
    // MARK: the render contract

    @Test func rendersMessagesAndSpecialTokens() throws {
        let source = "{{ bos_token }}{% for m in messages %}{{ m.role }}:{{ m['content'] }};{% endfor %}"
            + "{% if add_generation_prompt %}assistant:{% endif %}{{ eos_token }}"
        let messages = [ChatMessage(role: "user", content: "hi"), ChatMessage(role: "assistant", content: "yo")]
        #expect(try render(source, messages, addGenerationPrompt: true) == "<s>user:hi;assistant:yo;assistant:</s>")
        #expect(try render(source, messages) == "<s>user:hi;assistant:yo;</s>")
    }

    @Test func toolsAndDocumentsAreNoneLikeHuggingFace() throws {
        #expect(try render("{{ tools is defined }} {{ tools is none }} {{ documents is none }}") == "True True True")
    }

    @Test func extraVariablesOverrideAndUndefinedRemoves() throws {
        let tool: TemplateValue = ["type": "function", "function": ["name": "f", "parameters": ["b": 1, "a": [true, .none]]]]
        #expect(try render("{{ tools | tojson }}", extra: ["tools": [tool]])
                == #"[{"type": "function", "function": {"name": "f", "parameters": {"b": 1, "a": [true, null]}}}]"#)
        #expect(try render("{{ tools is defined }}", extra: ["tools": .undefined]) == "False")
        #expect(try render("{{ n + 1 }} {{ x }}", extra: ["n": 41, "x": 1.5]) == "42 1.5")
    }

    @Test func templateIsReusableAcrossConcurrentRenders() async throws {
        let template = try ChatTemplate(source: "{% for m in messages %}{{ m.content | upper }}{% endfor %}")
        try await withThrowingTaskGroup(of: String.self) { group in
            for i in 0..<8 {
                group.addTask {
                    try template.render(messages: [ChatMessage(role: "user", content: "m\(i)")],
                                        addGenerationPrompt: false, bosToken: "", eosToken: "")
                }
            }
            var outputs: Set<String> = []
            for try await output in group { outputs.insert(output) }
            #expect(outputs == Set((0..<8).map { "M\($0)" }))
        }
    }

    @Test func templateValueObjectsKeepOrder() {
        let a: TemplateValue = ["x": 1, "y": 2]
        let b: TemplateValue = ["y": 2, "x": 1]
        #expect(a == a)
        #expect(a != b)
        #expect(TemplateValue.array([.none, .undefined]) == [.none, .undefined])
    }

    // MARK: raise_exception

    @Test func raiseExceptionCarriesTheTemplatesMessage() {
        let source = "{% for m in messages %}{% if m.role == 'system' %}{{ raise_exception('No system role: ' ~ m.content) }}{% endif %}{% endfor %}"
        do {
            _ = try render(source, [ChatMessage(role: "system", content: "x")])
            Issue.record("expected an error")
        } catch {
            #expect(error == .raised("No system role: x"))
            #expect(error.description == "No system role: x")
        }
    }

    // MARK: constructs we refuse, with a message naming them

    @Test func unsupportedTagsAreNamedWithTheirLine() {
        let e = error("{% set x = 1 %}\n\n{% macro greet(name) %}hi {{ name }}{% endmacro %}")
        #expect(e == .unsupported("tag 'macro'", line: 3))
        #expect(e?.description == "unsupported tag 'macro' at line 3")
        #expect(error("{% include 'other.jinja' %}") == .unsupported("tag 'include'", line: 1))
        #expect(error("{% call foo() %}{% endcall %}") == .unsupported("tag 'call'", line: 1))
        #expect(error("{% for x in xs recursive %}{% endfor %}") == .unsupported("recursive for loop", line: 1))
    }

    @Test func unknownFiltersAndTestsAreNamed() {
        let filter = error("line one\n{{ 'a' | frobnicate }}")
        #expect(filter == .unknownFilter("frobnicate", line: 2))
        #expect(filter?.description == "unknown filter 'frobnicate' at line 2")
        #expect(error("{% if 1 is prime %}{% endif %}") == .unknownTest("prime", line: 1))
    }

    @Test func unsupportedOperationsAreNamed() {
        #expect(error("{{ [1].append(2) }}") == .unsupported("method 'append' on list", line: 1))
        #expect(error("{{ 'a'.format(1) }}") == .unsupported("method 'format' on str", line: 1))
        #expect(error("{{ '%s' % 'x' }}") == .unsupported("'%' string formatting", line: 1))
    }

    @Test func syntaxErrorsCarryTheirLine() {
        #expect(error("a\n{% if x %}\nb\n{% endfor %}") == .syntax("unknown tag 'endfor'", line: 4))
        guard case .syntax(_, let line)? = error("{{ 'a' }}\n{{ 1 + }}") else {
            Issue.record("expected a syntax error")
            return
        }
        #expect(line == 2)
        #expect(error("{% break %}") == .syntax("'break' outside loop", line: 1))
        if case .syntax? = error("{% if true %}open") {} else { Issue.record("unclosed if must be a syntax error") }
    }

    // MARK: undefined values behave like jinja2's default Undefined

    @Test func undefinedValues() throws {
        #expect(try render("[{{ missing }}]{{ missing is defined }}{{ missing | length }}{% for x in missing %}x{% endfor %}") == "[]False0")
        #expect(try render("{% if missing %}yes{% else %}no{% endif %}") == "no")
        #expect(error("{{ missing.attr }}") == .runtime("'missing' is undefined", line: 1))
        #expect(error("{{ missing + 1 }}") == .runtime("'missing' is undefined", line: 1))
        #expect(error("{% set d = {'a': 1} %}\n{{ d.b.c }}") == .runtime("'dict object' has no attribute 'b'", line: 2))
    }

    // MARK: behaviour not covered by the jinja2 goldens

    @Test func namespacesAreShared() throws {
        #expect(try render("{% set a = namespace(x=1) %}{% set b = a %}{% set b.x = 2 %}{{ a.x }}") == "2")
        #expect(error("{% set d = 1 %}{% set d.x = 2 %}") == .runtime("cannot assign attribute on non-namespace object 'd'", line: 1))
    }

    @Test func strftimeNowFormatsTheCurrentDate() throws {
        let year = Calendar.current.component(.year, from: Date())
        #expect(try render("{{ strftime_now('%Y') }}") == String(year))
        #expect(try render("{{ strftime_now is defined }}") == "True")
    }

    @Test func integerOverflowIsAnErrorNotACrash() {
        #expect(error("{{ 9223372036854775807 + 1 }}") == .runtime("integer overflow", line: 1))
        #expect(error("{{ 2 ** 64 }}") == .runtime("integer overflow", line: 1))
        #expect(error("{{ range(1000000) | length }}") != nil)
    }

    @Test func whitespaceControlEdges() throws {
        // CRLF source renders with LF, and only one final newline is dropped.
        #expect(try render("a\r\nb\r\n\r\n") == "a\nb\n")
        // `{{ }}` is never lstripped or trimmed; `{% %}` is.
        #expect(try render("  {{ 1 }}\n  {% if true %}\nx\n  {% endif %}\ny") == "  1\nx\ny")
        // Braces inside a tag do not end it.
        #expect(try render("{{ {'a': {'b': 1}} }}") == "{'a': {'b': 1}}")
    }
}
