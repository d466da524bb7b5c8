import XarCommands

ToolMain.run(XarbuildCommand.self, name: "xarbuild")
