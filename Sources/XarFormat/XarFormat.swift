// XarFormat
