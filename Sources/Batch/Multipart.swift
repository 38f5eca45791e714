import Foundation

/// The parts of a `multipart/form-data` body (RFC 7578), enough for OpenAI's file upload.
struct Multipart {
    struct Part {
        let name: String
        let filename: String?
        let content: Data
    }

    let parts: [Part]

    /// nil if the content type has no boundary or the body does not follow it.
    init?(body: Data, contentType: String) {
        guard contentType.lowercased().hasPrefix("multipart/form-data"),
              let range = contentType.range(of: "boundary=") else { return nil }
        var boundary = String(contentType[range.upperBound...])
        if let semicolon = boundary.firstIndex(of: ";") { boundary = String(boundary[..<semicolon]) }
        boundary = boundary.trimmingCharacters(in: CharacterSet(charactersIn: "\" "))
        guard !boundary.isEmpty else { return nil }
        let delimiter = Data("--\(boundary)".utf8)
        let bytes = [UInt8](body)
        var parts: [Part] = []
        guard var position = Self.find(Array(delimiter), in: bytes, from: 0) else { return nil }
        while true {
            position += delimiter.count
            // "--" after a delimiter ends the body.
            if position + 1 < bytes.count, bytes[position] == 0x2D, bytes[position + 1] == 0x2D { break }
            guard let headerEnd = Self.find([0x0D, 0x0A, 0x0D, 0x0A], in: bytes, from: position),
                  let next = Self.find(Array("\r\n".utf8) + Array(delimiter), in: bytes, from: headerEnd + 4) else { return nil }
            let headers = String(decoding: bytes[position..<headerEnd], as: UTF8.self)
            guard let disposition = headers.split(separator: "\r\n").first(where: { $0.lowercased().hasPrefix("content-disposition:") }),
                  let name = Self.parameter("name", in: String(disposition)) else { return nil }
            parts.append(Part(name: name, filename: Self.parameter("filename", in: String(disposition)),
                              content: Data(bytes[(headerEnd + 4)..<next])))
            position = next + 2
        }
        self.parts = parts
    }

    func part(_ name: String) -> Part? { parts.first { $0.name == name } }

    private static func parameter(_ key: String, in header: String) -> String? {
        for piece in header.split(separator: ";") {
            let kv = piece.trimmingCharacters(in: .whitespaces)
            guard kv.hasPrefix("\(key)=") else { continue }
            return String(kv.dropFirst(key.count + 1)).trimmingCharacters(in: CharacterSet(charactersIn: "\""))
        }
        return nil
    }

    private static func find(_ needle: [UInt8], in haystack: [UInt8], from start: Int) -> Int? {
        guard !needle.isEmpty, haystack.count >= needle.count, start <= haystack.count - needle.count else { return nil }
        var i = start
        let first = needle[0]
        while i <= haystack.count - needle.count {
            if haystack[i] == first, haystack[i..<(i + needle.count)].elementsEqual(needle) { return i }
            i += 1
        }
        return nil
    }
}
