import Foundation
import Metering

/// The API keys a server accepts (`--api-keys FILE`), each with the name and
/// tier it is billed under. The file is JSON:
/// `{"keys": [{"key": "sk-...", "name": "alice", "tier": "on-demand", "admin": false}]}`.
public struct APIKeys: Sendable {
    public struct Entry: Sendable, Decodable {
        public let key: String
        public let name: String
        public let tier: Tier
        public let admin: Bool

        enum CodingKeys: String, CodingKey { case key, name, tier, admin }
        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            key = try c.decode(String.self, forKey: .key)
            name = try c.decode(String.self, forKey: .name)
            tier = try c.decodeIfPresent(Tier.self, forKey: .tier) ?? .onDemand
            admin = try c.decodeIfPresent(Bool.self, forKey: .admin) ?? false
        }
    }

    public let entries: [Entry]

    public init(entries: [Entry]) { self.entries = entries }

    public init(file path: String) throws {
        struct File: Decodable { let keys: [Entry] }
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw ServerError("cannot read the API key file \(path)")
        }
        let file: File
        do { file = try JSONDecoder().decode(File.self, from: data) } catch {
            throw ServerError("the API key file \(path) is not {\"keys\": [{\"key\", \"name\", \"tier\"?, \"admin\"?}]}: \(error)")
        }
        for entry in file.keys where entry.key.count < 8 {
            throw ServerError("the API key named '\(entry.name)' is shorter than 8 characters")
        }
        guard Set(file.keys.map(\.key)).count == file.keys.count else { throw ServerError("the API key file lists a key twice") }
        entries = file.keys
    }

    /// The entry whose key is `presented`. Every key is compared in full, in
    /// time that depends only on the lengths, so timing does not reveal how
    /// much of a key a guess got right.
    public func match(_ presented: String) -> Entry? {
        let given = Array(presented.utf8)
        var found: Entry?
        for entry in entries {
            let key = Array(entry.key.utf8)
            var difference: UInt8 = key.count == given.count ? 0 : 1
            for i in 0..<key.count { difference |= key[i] ^ (i < given.count ? given[i] : 0) }
            if difference == 0 { found = entry }
        }
        return found
    }
}
