// XarBuild
