import XarMount
