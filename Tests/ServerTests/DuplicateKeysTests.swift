import Foundation
import Testing
import OpenAI

struct DuplicateKeysTests {
    @Test(arguments: [
        (#"{"a":1,"a":2}"#, "a"),
        (#"{"a":{"b":1,"b":[1]}}"#, "b"),
        (#"[{"x":1},{"y":{"z":1,"z":2}}]"#, "z"),
        (#"{"a\u0062":1,"ab":2}"#, "ab"),
        (#"{"s":"a\"b","s":1}"#, "s"),
    ] as [(String, String)])
    func findsTheRepeatedKey(json: String, key: String) {
        #expect(DuplicateKeys.first(in: Data(json.utf8)) == key)
    }

    @Test(arguments: [
        #"{"a":1,"b":{"a":1},"c":[{"a":1},{"a":2}]}"#,
        #"{"a":"a","b":"a,\"a\":"}"#,
        #"["a","a"]"#,
        #"{"a":1,"a"#,  // malformed: left for the decoder
        "",
    ])
    func acceptsKeysThatRepeatOnlyAcrossObjects(json: String) {
        #expect(DuplicateKeys.first(in: Data(json.utf8)) == nil)
    }
}
