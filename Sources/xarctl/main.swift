import XarCommands

ToolMain.run(XarctlCommand.self, name: "xarctl")
