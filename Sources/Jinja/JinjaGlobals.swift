#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Global functions callable from templates.
extension JinjaRenderer {
    /// jinja2's sandbox refuses ranges longer than this; so do we.
    static let maxRange = 100_000

    func callBuiltin(_ builtin: JinjaBuiltin, _ args: JinjaCallArguments, line: Int) throws(TemplateError) -> JinjaValue {
        switch builtin {
        case .raiseException:
            throw .raised(args.get(0, "message")?.asString ?? "")
        case .strftimeNow:
            guard case .string(let format)? = args.get(0, "format") else {
                throw .runtime("strftime_now() needs a format string", line: line)
            }
            return .string(Self.strftimeNow(format))
        case .namespace:
            var attributes = JinjaDict()
            if case .dict(let initial)? = args.positional.first { attributes = initial }
            for (name, value) in args.keyword { attributes[name] = value }
            return .namespace(JinjaNamespace(attributes))
        case .dict:
            var dict = JinjaDict()
            if case .dict(let initial)? = args.positional.first { dict = initial }
            for (name, value) in args.keyword { dict[name] = value }
            return .dict(dict)
        case .range:
            var bounds: [Int] = []
            for value in args.positional {
                guard case .int(let i) = value else {
                    throw .runtime("'\(value.typeName)' object cannot be interpreted as an integer", line: line)
                }
                bounds.append(i)
            }
            let (start, stop, step): (Int, Int, Int)
            switch bounds.count {
            case 1: (start, stop, step) = (0, bounds[0], 1)
            case 2: (start, stop, step) = (bounds[0], bounds[1], 1)
            case 3: (start, stop, step) = (bounds[0], bounds[1], bounds[2])
            default: throw .runtime("range expected 1 to 3 arguments, got \(bounds.count)", line: line)
            }
            guard step != 0 else { throw .runtime("range() arg 3 must not be zero", line: line) }
            let values = stride(from: start, to: stop, by: step)
            guard values.underestimatedCount <= Self.maxRange else {
                throw .runtime("range too big, maximum size for range is \(Self.maxRange)", line: line)
            }
            return .list(values.map(JinjaValue.int))
        }
    }

    /// Python's `datetime.now().strftime(format)`: C strftime on local time,
    /// which is what CPython itself calls.
    static func strftimeNow(_ format: String) -> String {
        var now = time(nil)
        var parts = tm()
        localtime_r(&now, &parts)
        var buffer = [CChar](repeating: 0, count: 512)
        let written = strftime(&buffer, buffer.count, format, &parts)
        return String(decoding: buffer[..<written].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
