import Testing
import XarTestSupport

@Suite struct TestSupportSmoke {
    @Test func processRunnerReportsExitStatusAndOutput() throws {
        let r = try Process.run(["/bin/sh", "-c", "echo hi; echo err >&2; exit 3"])
        #expect(r.status == 3)
        #expect(r.stdout == "hi\n")
        #expect(r.stderr == "err\n")
    }
}
