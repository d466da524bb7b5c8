// XarMount
