// XarCompression
