// XarCommands
