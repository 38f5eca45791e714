import Foundation

/// `wafer COMMAND ...`: parses the command name and hands the rest to it.
let usage = """
usage: wafer COMMAND [OPTIONS]
  serve [--model PATH|NAME] [--host 127.0.0.1] [--port 8080] [--model-id ID] [--precision full|native] [--api-keys FILE]
        [--max-batch 32] [--max-queue 256] [--kv-tokens N] [--ctx N] [--batch-window-ms MS] [--no-prefix-cache]
        [--max-body-bytes N] [--max-connections 512] [--max-connections-per-address 256] [--header-timeout 10]
        [--body-timeout 120] [--idle-timeout 60] [--max-header-bytes 32768] [--max-n 128] [--max-stop 16]
        [--max-prompt-tokens N] [--request-timeout 600] [--shutdown-grace S] [--model-alias NAME ...] [--cors-origin ORIGIN]
        [--kv f32|f16] [--prices FILE] [--data-dir data (uploads, batches)] [--ledger PATH|postgresql://URL (default DATA-DIR/ledger.db)]
        [--batch-poll 2 (seconds; with a PostgreSQL ledger: batches to adopt, cancellations made on other replicas)]
        [--upstream URL [--upstream-key-file FILE] [--overflow-queue-depth 64] [--upstream-model ID] [--upstream-timeout 30]]
        [--chat-template FILE (Jinja; replaces the model's own, or gives a base model one)]
  batch INPUT.jsonl -o OUTPUT.jsonl [--errors ERRORS.jsonl] [--model PATH] [--model-id ID] [--max-batch 32] [--ctx N]
        [--precision full|native] [--ledger PATH] [--prices FILE] [--chat-template FILE]
  usage [--month 2026-11] [--ledger data/ledger.db | postgresql://...] [--format table|json|csv|html] [--group-by key|model|tier|hour|day|month|route] [--prices FILE]
  plan --tokens N --prompt-tokens P --completion-tokens C [--concurrency N] [--throughput TOK/S] [--daily-tokens N] [--prices FILE]
        [--burst-daily-tokens N]
  generate --prompt TEXT | --chat TEXT [--model PATH] [--max-tokens N] [--temperature T] [--top-p P] [--seed S]
        [--stop TEXT ...] [--precision full|native] [--chat-template FILE]
  tokenize [--model PATH] [--no-bos] [--no-special] [--ids] TEXT
  info [PATH|NAME]
  bench [--model PATH] [--precision full|native] [--kv f32|f16] [--prompt-tokens N] [--decode-tokens N] [--repeat N] [--json]
        [--kernels avx2|avx-vnni|avx512-vnni|vnni-emulated]
        [--concurrency N [--requests M] [--shared-prefix K] [--max-batch B] [--no-prefix-cache]]
  ledger-bench --ledger PATH|postgresql://URL [--requests 5000] [--writers 16]
"""

let commands: [String: (ArraySlice<String>) throws -> Int32] = [
    "serve": ServeCommand.run,
    "generate": GenerateCommand.run,
    "usage": UsageCommand.run,
    "batch": BatchCommand.run,
    "plan": PlanCommand.run,
    "tokenize": TokenizeCommand.run,
    "info": InfoCommand.run,
    "bench": BenchCommand.run,
    "ledger-bench": LedgerBenchCommand.run,
]

/// The usage lines of one command (its first line and the indented lines under it).
func help(for command: String) -> String {
    var lines: [Substring] = []
    for line in usage.split(separator: "\n") {
        if line.hasPrefix("  \(command) ") || line == "  \(command)" {
            lines.append(line)
        } else if !lines.isEmpty {
            guard line.hasPrefix("    ") else { break }
            lines.append(line)
        }
    }
    return "usage: wafer " + lines.map { $0.trimmingCharacters(in: .whitespaces) }.joined(separator: "\n    ")
}

let arguments = CommandLine.arguments.dropFirst()
guard let name = arguments.first, let command = commands[name] else {
    FileHandle.standardError.write(Data((usage + "\n").utf8))
    exit(arguments.first.map { ["help", "--help", "-h"].contains($0) } == true ? 0 : 2)
}
if arguments.dropFirst().contains(where: { $0 == "--help" || $0 == "-h" }) {
    print(help(for: name))
    exit(0)
}
do {
    exit(try command(arguments.dropFirst()))
} catch let error as UsageError {
    writeError(error.description)
    exit(2)
} catch {
    writeError(String(describing: error))
    exit(1)
}
