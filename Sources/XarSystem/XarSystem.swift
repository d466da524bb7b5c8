// XarSystem
