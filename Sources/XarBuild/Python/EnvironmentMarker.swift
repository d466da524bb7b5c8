/// A PEP 508 environment marker (`python_version < "3.11" and sys_platform == "linux"`), evaluated against
/// the bundled interpreter's marker values.
///
/// Grammar (PEP 508, "Environment Markers"): `marker_or := marker_and ('or' marker_and)*`,
/// `marker_and := marker_expr ('and' marker_expr)*`, `marker_expr := marker_var op marker_var | '(' marker ')'`,
/// where a `marker_var` is an environment name or a quoted string and `op` one of the version comparisons,
/// `in` or `not in`. Version comparisons use PEP 440 ordering for the version-valued names.
public enum EnvironmentMarker {
    /// Evaluates `text` with `environment` (marker names to values; `extra` is empty unless given).
    public static func evaluate(_ text: String, environment: [String: String]) throws -> Bool {
        var parser = Parser(tokens: try tokenize(text), environment: environment, text: text)
        let value = try parser.parseOr()
        guard parser.index == parser.tokens.count else { throw syntax(text) }
        return value
    }

    private enum Token: Equatable {
        case name(String), string(String), op(String), open, close
    }

    private static func syntax(_ text: String) -> PythonBuildError {
        PythonBuildError("The environment marker `\(text)` is not valid PEP 508 syntax.")
    }

    private static func tokenize(_ text: String) throws -> [Token] {
        var tokens: [Token] = []
        let chars = Array(text)
        var i = 0
        while i < chars.count {
            let c = chars[i]
            if c.isWhitespace {
                i += 1
            } else if c == "(" {
                tokens.append(.open); i += 1
            } else if c == ")" {
                tokens.append(.close); i += 1
            } else if c == "\"" || c == "'" {
                guard let end = chars[(i + 1)...].firstIndex(of: c) else { throw syntax(text) }
                tokens.append(.string(String(chars[(i + 1)..<end])))
                i = end + 1
            } else if "<>=!~".contains(c) {
                var op = String(c)
                i += 1
                while i < chars.count, "<>=!~".contains(chars[i]) { op.append(chars[i]); i += 1 }
                tokens.append(.op(op))
            } else if c.isLetter || c == "_" {
                var word = ""
                while i < chars.count, chars[i].isLetter || chars[i].isNumber || chars[i] == "_" || chars[i] == "." {
                    word.append(chars[i]); i += 1
                }
                if word == "in" || word == "and" || word == "or" {
                    tokens.append(.op(word))
                } else if word == "not" {
                    tokens.append(.op("not"))
                } else {
                    tokens.append(.name(word))
                }
            } else {
                throw syntax(text)
            }
        }
        // Fold `not in` into one operator.
        var folded: [Token] = []
        for token in tokens {
            if token == .op("in"), folded.last == .op("not") {
                folded[folded.count - 1] = .op("not in")
            } else {
                folded.append(token)
            }
        }
        return folded
    }

    private struct Parser {
        var tokens: [Token]
        var index = 0
        var environment: [String: String]
        var text: String

        init(tokens: [Token], environment: [String: String], text: String) {
            self.tokens = tokens
            self.environment = environment
            self.text = text
        }

        mutating func parseOr() throws -> Bool {
            var value = try parseAnd()
            while index < tokens.count, tokens[index] == .op("or") {
                index += 1
                let rhs = try parseAnd()
                value = value || rhs
            }
            return value
        }

        mutating func parseAnd() throws -> Bool {
            var value = try parseExpression()
            while index < tokens.count, tokens[index] == .op("and") {
                index += 1
                let rhs = try parseExpression()
                value = value && rhs
            }
            return value
        }

        mutating func parseExpression() throws -> Bool {
            guard index < tokens.count else { throw EnvironmentMarker.syntax(text) }
            if tokens[index] == .open {
                index += 1
                let value = try parseOr()
                guard index < tokens.count, tokens[index] == .close else { throw EnvironmentMarker.syntax(text) }
                index += 1
                return value
            }
            let (lhs, lhsIsVersion) = try parseValue()
            guard index < tokens.count, case .op(let op) = tokens[index] else { throw EnvironmentMarker.syntax(text) }
            index += 1
            let (rhs, rhsIsVersion) = try parseValue()
            return compare(lhs, op, rhs, asVersions: lhsIsVersion || rhsIsVersion)
        }

        mutating func parseValue() throws -> (String, Bool) {
            guard index < tokens.count else { throw EnvironmentMarker.syntax(text) }
            defer { index += 1 }
            switch tokens[index] {
            case .string(let s): return (s, false)
            case .name(let n):
                let isVersion = ["python_version", "python_full_version", "implementation_version"].contains(n)
                if n == "extra" { return (environment["extra"] ?? "", false) }
                guard let v = environment[n] else {
                    throw PythonBuildError(
                        "The environment marker `\(text)` uses `\(n)`, which PEP 508 does not define.")
                }
                return (v, isVersion)
            default: throw EnvironmentMarker.syntax(text)
            }
        }

        func compare(_ lhs: String, _ op: String, _ rhs: String, asVersions: Bool) -> Bool {
            switch op {
            case "in": return rhs.contains(lhs)
            case "not in": return !rhs.contains(lhs)
            case "===": return lhs == rhs
            default: break
            }
            if asVersions, let result = VersionOrder.compare(lhs, op, rhs) { return result }
            switch op {
            case "==": return lhs == rhs
            case "!=": return lhs != rhs
            case "<": return lhs < rhs
            case "<=": return lhs <= rhs
            case ">": return lhs > rhs
            case ">=": return lhs >= rhs
            default: return false
            }
        }
    }
}
