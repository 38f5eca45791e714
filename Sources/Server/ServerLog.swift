import Foundation

/// One line to the server's log (stderr), prefixed as every line of `wafer` is.
public enum ServerLog {
    public static func write(_ message: String) {
        FileHandle.standardError.write(Data("wafer: \(message)\n".utf8))
    }
}
