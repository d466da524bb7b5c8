public import ArgumentParser
import Foundation
import XarSystem

/// The one place the executables catch errors: input problems print `tool: error: …` and exit 1, usage
/// problems print ArgumentParser's message and exit 64 (`EX_USAGE`), success exits 0.
public enum ToolMain {
    /// Exit status for a failed build, verify or other command whose input was bad.
    public static let failureStatus: Int32 = 1
    /// Exit status for a command line that could not be parsed (`EX_USAGE`, sysexits.h).
    public static let usageStatus: Int32 = 64

    /// Parses the process's arguments as `Command`, runs it and exits with the documented status.
    public static func run<Command: ParsableCommand>(_ command: Command.Type, name: String) -> Never {
        do {
            var parsed = try Command.parseAsRoot()
            try parsed.run()
            exit(0)
        } catch let failure as CommandFailure {
            StandardError.writeLine("\(name): error: \(failure.message)")
            exit(failureStatus)
        } catch let code as ExitCode {
            exit(code.rawValue)
        } catch {
            // ArgumentParser's own errors: help, version, usage. It prints them and picks the code (64 for usage).
            Command.exit(withError: error)
        }
    }
}
