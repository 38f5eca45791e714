import Foundation

/// `wafer COMMAND ...`: parses the command name and hands the rest to it.
let usage = """
usage: wafer COMMAND [OPTIONS]
  serve [--model PATH] [--host 127.0.0.1] [--port 8080] [--model-id ID] [--precision full|native] [--api-keys FILE]
        [--max-batch 32] [--max-queue 256] [--kv-tokens N] [--ctx N] [--batch-window-ms MS] [--no-prefix-cache]
        [--max-body-bytes N] [--max-connections 512] [--max-connections-per-address 256] [--header-timeout 10]
        [--body-timeout 120] [--idle-timeout 60] [--shutdown-grace S]
        [--kv f32|f16] [--prices FILE] [--data-dir data (uploads, batches)] [--ledger PATH (default DATA-DIR/ledger.db)]
  batch INPUT.jsonl -o OUTPUT.jsonl [--errors ERRORS.jsonl] [--model PATH] [--max-batch 32] [--ledger PATH] [--prices FILE]
  usage [--month 2026-11] [--db data/ledger.db] [--format table|json|csv] [--group-by key|model|day|month] [--prices FILE]
  plan --tokens N --prompt-tokens P --completion-tokens C [--concurrency N] [--throughput TOK/S] [--daily-tokens N] [--prices FILE]
  generate --prompt TEXT | --chat TEXT [--model PATH] [--max-tokens N] [--temperature T] [--seed S] [--precision full|native]
  tokenize [--model PATH] [--no-bos] [--no-special] [--ids] TEXT
  info [PATH]
  bench [--model PATH] [--precision full|native] [--kv f32|f16] [--prompt-tokens N] [--decode-tokens N] [--repeat N] [--json]
        [--concurrency N [--requests M] [--shared-prefix K] [--max-batch B] [--no-prefix-cache]]
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
]

let arguments = CommandLine.arguments.dropFirst()
guard let name = arguments.first, let command = commands[name] else {
    FileHandle.standardError.write(Data((usage + "\n").utf8))
    exit(arguments.first.map { ["help", "--help", "-h"].contains($0) } == true ? 0 : 2)
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
