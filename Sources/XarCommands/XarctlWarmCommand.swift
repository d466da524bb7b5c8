public import ArgumentParser
internal import XarMount

/// `xarctl warm FILE.xar...`: makes each image's first cold start on this host as fast as a repeat one.
public struct XarctlWarm: ParsableCommand {
    /// The command's help.
    public static let configuration = CommandConfiguration(
        commandName: "warm",
        abstract: "Prepare .xar files' cold starts on this host (after a deploy): save their start-up blocks.",
        discussion: """
            Mounts each image, reads the files its start-up list names (/.xar/startup-files, written by xarbuild \
            python) through the mount as a start would, and unmounts it: its server saves the start-up plan and \
            the blocks decompressed beside the mount, so the image's next cold start reads them instead of \
            decompressing (docs/lifecycle.md, "Saved blocks"). A runtime has no start-up list: its interpreter is \
            started once through the mount instead (-I -S -c pass: no application, no site, nothing from the \
            environment), which is what every thin application's start reads of it; a thin image's runtime is \
            warmed first. An image that is mounted is left alone: its server \
            saves them when it ends. Mounts are per user: warm as the user who runs the tool. \
            Example: xarctl warm /opt/tools/*.xar
            """
    )

    @Argument(help: "The .xar files.")
    public var files: [String]

    /// Creates the command; ArgumentParser calls this.
    public init() {}

    /// Warms each file, one line each; a thin image's runtime first, on a line of its own (once per runtime).
    public func run() throws {
        var runtimes: Set<String> = []
        for file in files {
            let runtime: String?
            do { runtime = try ImageWarmer.runtime(of: file) } catch { throw CommandFailure(error.message) }
            if let runtime, runtimes.insert(runtime).inserted {
                try warm(runtime, label: "\(runtime) (the runtime of \(file))")
            }
            try warm(file, label: file)
        }
    }

    /// Warms one image and prints its line.
    func warm(_ file: String, label: String) throws {
        let report: ImageWarmer.Report
        do { report = try ImageWarmer.warm(imagePath: file) } catch { throw CommandFailure(error.message) }
        if report.alreadyMounted {
            print("\(label): mounted at \(report.mountPoint); its server saves the start-up blocks when it ends")
        } else if report.startedInterpreter {
            let arguments = ImageWarmer.interpreterStart.joined(separator: " ")
            let started = "a runtime: its interpreter started once (\(arguments))"
            if let saved = report.savedBlocks {
                print(
                    "\(label): warmed: \(started); \(ByteSize.human(saved.bytes)) of start-up blocks in \(saved.path)")
            } else {
                print("\(label): \(started), but no start-up blocks were saved (XAR_STARTUP_BLOCKS=0?)")
            }
        } else if !report.hasList {
            print("\(label): no start-up list (/.xar/startup-files) in the image; nothing to warm")
        } else if let saved = report.savedBlocks {
            print(
                "\(label): warmed: \(report.files) files, \(ByteSize.human(report.bytes)) read; "
                    + "\(ByteSize.human(saved.bytes)) of start-up blocks in \(saved.path)")
        } else {
            print(
                "\(label): \(report.files) files, \(ByteSize.human(report.bytes)) read, but no start-up blocks were "
                    + "saved (XAR_STARTUP_BLOCKS=0?)")
        }
    }
}
