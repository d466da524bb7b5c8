# Build rules for .xar files, for monorepos built with CMake (3.20 or newer). docs/building.md, "Build systems".
#
#   include(path/to/xar/cmake/Xar.cmake)
#
#   xar_python(<target> OUTPUT <file.xar>
#              [PYTHON <interpreter>] [SOURCE <dir>] [WHEELS <wheel>...]
#              [REQUIREMENTS <lock>] [WHEELHOUSE <dir>] [RUNTIME <xar_runtime target or runtime.xar>]
#              [ENTRY_POINTS <name=module:function>...] [MODULES <[name=]module>...] [DEFAULT <name>]
#              [SOURCE_DATE_EPOCH <seconds>] [ARGS <more xarbuild python options>...])
#
#   xar_runtime(<target> OUTPUT <file.xar>
#               [PYTHON <interpreter>] [REQUIREMENTS <lock>] [WHEELHOUSE <dir>]
#               [SOURCE_DATE_EPOCH <seconds>] [ARGS <more xarbuild runtime options>...])
#
#   xar_directory(<target> DIRECTORY <dir> OUTPUT <file.xar>
#                 [EXEC <program in dir>] [SOURCE_DATE_EPOCH <seconds>] [ARGS <more xarbuild dir options>...])
#
# Each adds a custom command that runs xarbuild with --depfile, so the build reruns it when any input changes
# (every file under SOURCE or DIRECTORY, the lock, the wheels it installs, the interpreter or the runtime) and only
# then, and a target <target>, built by default, that depends on the output. A thin xar_python (RUNTIME, a
# xar_runtime target or a runtime .xar file; docs/runtimes.md) is built after its runtime and rebuilt when it
# changes. SOURCE_DATE_EPOCH (default 0) makes the output
# byte-identical for the same inputs. The xarbuild run is the cache variable XARBUILD (default: xarbuild on PATH).

if(CMAKE_VERSION VERSION_LESS 3.20)
  message(FATAL_ERROR "Xar.cmake needs CMake 3.20 or newer (DEPFILE with every generator); this is ${CMAKE_VERSION}")
endif()

find_program(XARBUILD xarbuild DOC "The xarbuild that xar_python, xar_runtime and xar_directory run")

# The command prefix shared by both rules: xarbuild under a fixed SOURCE_DATE_EPOCH.
function(_xar_command out_var epoch)
  if(NOT XARBUILD)
    message(FATAL_ERROR "xarbuild was not found: put it on PATH or set -DXARBUILD=/path/to/xarbuild")
  endif()
  if(epoch STREQUAL "")
    set(epoch 0)
  endif()
  set(${out_var} ${CMAKE_COMMAND} -E env SOURCE_DATE_EPOCH=${epoch} ${XARBUILD} PARENT_SCOPE)
endfunction()

# The output's absolute path and its depfile's.
function(_xar_paths output out_var depfile_var)
  get_filename_component(absolute "${output}" ABSOLUTE BASE_DIR "${CMAKE_CURRENT_BINARY_DIR}")
  set(${out_var} "${absolute}" PARENT_SCOPE)
  set(${depfile_var} "${absolute}.d" PARENT_SCOPE)
endfunction()

# Appends `flag value` to the caller's list `command` for each value after `path`, made absolute (relative to the
# current source directory) when `path` is TRUE.
macro(_xar_append flag path)
  foreach(_xar_value ${ARGN})
    if(${path})
      get_filename_component(_xar_value "${_xar_value}" ABSOLUTE)
    endif()
    list(APPEND command ${flag} "${_xar_value}")
  endforeach()
endmacro()

# The custom command that runs `command` (the rest of the arguments) to make `output`, and the target; the
# output's path is the target's property XAR_OUTPUT. With `runtime` (a xar_runtime target or a file), the command
# depends on the runtime's file, and the target on the runtime's target.
function(_xar_add target output depfile comment runtime)
  set(depends "")
  if(runtime)
    _xar_runtime_file("${runtime}" depends)
  endif()
  add_custom_command(OUTPUT "${output}" COMMAND ${ARGN} DEPENDS ${depends} DEPFILE "${depfile}" VERBATIM
    COMMENT "${comment}")
  add_custom_target(${target} ALL DEPENDS "${output}")
  set_property(TARGET ${target} PROPERTY XAR_OUTPUT "${output}")
  if(runtime AND TARGET "${runtime}")
    add_dependencies(${target} "${runtime}")
  endif()
endfunction()

# The runtime's file for --runtime: a xar_runtime target's output, or a file (relative to the source directory).
function(_xar_runtime_file runtime out_var)
  if(TARGET "${runtime}")
    get_target_property(file "${runtime}" XAR_OUTPUT)
    if(NOT file)
      message(FATAL_ERROR "RUNTIME ${runtime} is a target, but not one of xar_runtime")
    endif()
  else()
    get_filename_component(file "${runtime}" ABSOLUTE)
  endif()
  set(${out_var} "${file}" PARENT_SCOPE)
endfunction()

function(xar_python target)
  cmake_parse_arguments(PARSE_ARGV 1 X ""
    "OUTPUT;PYTHON;SOURCE;REQUIREMENTS;WHEELHOUSE;RUNTIME;DEFAULT;SOURCE_DATE_EPOCH"
    "WHEELS;ENTRY_POINTS;MODULES;ARGS")
  if(NOT X_OUTPUT)
    message(FATAL_ERROR "xar_python(${target}): OUTPUT <file.xar> is required")
  endif()
  _xar_paths("${X_OUTPUT}" output depfile)
  _xar_command(command "${X_SOURCE_DATE_EPOCH}")
  list(APPEND command python -o "${output}" --depfile "${depfile}")
  _xar_append(--python FALSE ${X_PYTHON})
  _xar_append(--source TRUE ${X_SOURCE})
  _xar_append(--wheel TRUE ${X_WHEELS})
  _xar_append(--requirements TRUE ${X_REQUIREMENTS})
  _xar_append(--wheelhouse TRUE ${X_WHEELHOUSE})
  _xar_append(--entry-point FALSE ${X_ENTRY_POINTS})
  _xar_append(--module FALSE ${X_MODULES})
  _xar_append(--default FALSE ${X_DEFAULT})
  if(X_RUNTIME)
    _xar_runtime_file("${X_RUNTIME}" runtime)
    list(APPEND command --runtime "${runtime}")
  endif()
  _xar_add(${target} "${output}" "${depfile}" "xarbuild python: ${X_OUTPUT}" "${X_RUNTIME}" ${command} ${X_ARGS})
endfunction()

function(xar_runtime target)
  cmake_parse_arguments(PARSE_ARGV 1 X "" "OUTPUT;PYTHON;REQUIREMENTS;WHEELHOUSE;SOURCE_DATE_EPOCH" "ARGS")
  if(NOT X_OUTPUT)
    message(FATAL_ERROR "xar_runtime(${target}): OUTPUT <file.xar> is required")
  endif()
  _xar_paths("${X_OUTPUT}" output depfile)
  _xar_command(command "${X_SOURCE_DATE_EPOCH}")
  list(APPEND command runtime -o "${output}" --depfile "${depfile}")
  _xar_append(--python FALSE ${X_PYTHON})
  _xar_append(--requirements TRUE ${X_REQUIREMENTS})
  _xar_append(--wheelhouse TRUE ${X_WHEELHOUSE})
  _xar_add(${target} "${output}" "${depfile}" "xarbuild runtime: ${X_OUTPUT}" "" ${command} ${X_ARGS})
endfunction()

function(xar_directory target)
  cmake_parse_arguments(PARSE_ARGV 1 X "" "DIRECTORY;OUTPUT;EXEC;SOURCE_DATE_EPOCH" "ARGS")
  if(NOT X_OUTPUT OR NOT X_DIRECTORY)
    message(FATAL_ERROR "xar_directory(${target}): DIRECTORY <dir> and OUTPUT <file.xar> are required")
  endif()
  _xar_paths("${X_OUTPUT}" output depfile)
  get_filename_component(directory "${X_DIRECTORY}" ABSOLUTE)
  _xar_command(command "${X_SOURCE_DATE_EPOCH}")
  list(APPEND command dir "${directory}" -o "${output}" --depfile "${depfile}")
  _xar_append(--exec FALSE ${X_EXEC})
  _xar_add(${target} "${output}" "${depfile}" "xarbuild dir: ${X_OUTPUT}" "" ${command} ${X_ARGS})
endfunction()
