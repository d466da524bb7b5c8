internal import Glibc
public import SystemPackage

/// Replacing this process with another program: the launcher's last step, so no launcher process stays
/// between the application and whoever started it.
public enum Exec {
    /// Replaces the process image with `path`, passing `arguments` (including `argv[0]`) and this process's
    /// environment, with `extraEnvironment` entries (`KEY=value`) in front; returns only by throwing.
    ///
    /// Descriptors opened with `O_CLOEXEC` close at this point, which is when the target has been opened by
    /// the kernel. The corresponding C function is `execve`.
    public static func replace(path: String, arguments: [String], extraEnvironment: [String] = []) -> Errno {
        let argv = arguments.map { strdup($0) } + [nil]
        var envp: [UnsafeMutablePointer<CChar>?] = extraEnvironment.map { strdup($0) }
        var entry = environ
        while let value = entry.pointee {
            envp.append(value)
            entry += 1
        }
        envp.append(nil)
        _ = execve(path, argv, envp)
        let code = Errno(rawValue: errno)
        argv.forEach { free($0) }
        for index in 0..<extraEnvironment.count { free(envp[index]) }
        return code
    }
}
