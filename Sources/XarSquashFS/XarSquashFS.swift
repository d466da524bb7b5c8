// XarSquashFS
