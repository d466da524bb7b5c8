"""Bazel rules for .xar files, for monorepos built with Bazel (tested with Debian 12's 4.2.3). docs/building.md.

    load("@xar//:bazel/xar.bzl", "xar_directory", "xar_python", "xar_runtime")

    xar_python(
        name = "mytool",                        # makes mytool.xar; `bazel run :mytool -- ARGS` runs it
        srcs = glob(["src/**/*.py"]),
        strip_prefix = "src",                   # the directory under this package that is the application's source
        python = "/usr/bin/python3.11",
        requirements = "requirements.txt",      # the lock (pinned, hashed)
        wheels = glob(["wheels/*.whl"]),        # the wheelhouse: every wheel the lock may name
        entry_points = ["mytool=mytool.cli:main"],
    )

    xar_runtime(
        name = "py311",                         # makes py311.xar: the interpreter and the lock's wheels (docs/runtimes.md)
        python = "/usr/bin/python3.11",
        requirements = "runtime.txt",
        wheels = glob(["wheels/*.whl"]),
    )

    xar_python(
        name = "thin",                          # a thin image: only its sources and the wheels py311 lacks
        srcs = glob(["thin/**/*.py"]),
        strip_prefix = "thin",
        runtime = ":py311",                     # rebuilt when py311.xar changes; finds it next to itself at run time
        entry_points = ["thin=thin.cli:main"],
    )

    xar_directory(
        name = "assets",
        srcs = glob(["assets/**"]),
        strip_prefix = "assets",
        exec = "bin/serve",
    )

Each rule runs xarbuild once, in one action whose inputs are exactly the files named here: Bazel reruns it when
one of them changes, and only then. The action copies the sources (following Bazel's symbolic links) into a
directory of its own at the paths they have under `strip_prefix`, and the wheels into a wheelhouse of their own, so
the image is the same whether the action runs sandboxed or not, and the same as `xarbuild` run by hand on those
files. `source_date_epoch` (default 0) makes it byte-identical for the same inputs. `xarbuild_args` passes more
xarbuild options (`--compression`, `--launcher`, ...).

The revision a Python image records is `revision`, or with `stamp_revision = "STABLE_GIT_COMMIT"` that key's
value in Bazel's stable status (the sources' copy is not a git checkout): build with
`--workspace_status_command=tools/status.sh`, a script that prints `STABLE_GIT_COMMIT $(git rev-parse HEAD)`.

The rules run the `xarbuild` that the `xarbuild` attribute names (a label of an executable), or else the one on
the actions' PATH (`--action_env=PATH=...`, or the default action environment).
"""

def _relative(ctx, file, strip_prefix):
    """The path of source `file` under this package's `strip_prefix`; fails for a file outside it."""
    base = ctx.label.package
    if strip_prefix:
        base = base + "/" + strip_prefix if base else strip_prefix
    path = file.short_path
    if not base:
        return path
    if not path.startswith(base + "/"):
        fail("%s: %s is not under %s/ (strip_prefix = %r)" % (ctx.label, path, base, strip_prefix))
    return path[len(base) + 1:]

# The action: stage the sources and wheels named in a manifest (`kind<TAB>source<TAB>path` lines) into a fresh
# directory, then run xarbuild with the remaining arguments, where @SOURCE@ and @WHEELHOUSE@ stand for the staged
# directories.
_ACTION = """
set -eu
out=$1 xarbuild=$2 manifest=$3 epoch=$4 label=$5 status=$6 key=$7
shift 7
stage=$(mktemp -d "${TMPDIR:-/tmp}/xar-bazel.XXXXXX")
trap 'rm -rf "$stage"' EXIT
mkdir "$stage/source" "$stage/wheelhouse"
tab=$(printf '\\t')
while IFS="$tab" read -r kind from path; do
    mkdir -p "$(dirname "$stage/$kind/$path")"
    cp -L --preserve=mode "$from" "$stage/$kind/$path"
done < "$manifest"
for argument in "$@"; do
    case "$argument" in
    @SOURCE@) argument=$stage/source ;;
    @WHEELHOUSE@) argument=$stage/wheelhouse ;;
    esac
    set -- "$@" "$argument"
    shift
done
if [ -n "$key" ]; then
    revision=$(sed -n "s/^$key //p" "$status")
    if [ -z "$revision" ]; then
        echo "$label: Bazel's stable status has no $key: build with --workspace_status_command=SCRIPT, a script that prints '$key <revision>'." >&2
        exit 1
    fi
    set -- "$@" --revision "$revision"
fi
# Quiet when it works, as Bazel's actions are; xarbuild's own lines when it does not, naming the rule's
# attributes instead of the staged copies.
if ! SOURCE_DATE_EPOCH=$epoch "$xarbuild" "$@" -o "$out" > "$stage/log" 2>&1; then
    sed -e "s|$stage/wheelhouse|the wheels of $label|g" -e "s|$stage/source|the srcs of $label|g" "$stage/log" >&2
    exit 1
fi
"""

def _xarbuild(ctx, kind, manifest_lines, arguments, inputs, status_key = "", runfiles = None):
    """Declares the action that makes `<name>.xar`, and returns the rule's providers. With `status_key`, the
    revision is that key's value in Bazel's stable status; `runfiles` go with the image (a thin one's runtime)."""
    out = ctx.actions.declare_file(ctx.label.name + ".xar")
    manifest = ctx.actions.declare_file(ctx.label.name + ".xar.inputs")
    ctx.actions.write(manifest, "".join([line + "\n" for line in manifest_lines]))
    status = ""
    if status_key:
        status = ctx.info_file.path
        inputs = inputs + [ctx.info_file]
    xarbuild, tools = "xarbuild", []
    if ctx.executable.xarbuild:
        xarbuild, tools = ctx.executable.xarbuild.path, [ctx.attr.xarbuild[DefaultInfo].files_to_run]
    head = [out.path, xarbuild, manifest.path, str(ctx.attr.source_date_epoch), str(ctx.label), status, status_key]
    ctx.actions.run_shell(
        command = _ACTION,
        arguments = head + arguments + ctx.attr.xarbuild_args,
        inputs = inputs + [manifest],
        tools = tools,
        outputs = [out],
        use_default_shell_env = True,
        mnemonic = "Xarbuild",
        progress_message = "xarbuild %s: %s" % (kind, out.short_path),
    )
    return [DefaultInfo(files = depset([out]), executable = out, runfiles = runfiles)]

def _sources(ctx):
    """The manifest lines of the rule's `srcs`, each at its path under `strip_prefix`."""
    return ["source\t%s\t%s" % (f.path, _relative(ctx, f, ctx.attr.strip_prefix)) for f in ctx.files.srcs]

def _interpreter(ctx, arguments, lines, inputs):
    """Adds the `python`, `requirements` and `wheels` of xar_python or xar_runtime to the action's `arguments`,
    manifest `lines` and `inputs`."""
    if ctx.attr.python:
        arguments.extend(["--python", ctx.attr.python])
    inputs.extend(ctx.files.wheels)
    if ctx.file.requirements:
        arguments.extend(["--requirements", ctx.file.requirements.path, "--wheelhouse", "@WHEELHOUSE@"])
        inputs.append(ctx.file.requirements)
        lines.extend(["wheelhouse\t%s\t%s" % (f.path, f.basename) for f in ctx.files.wheels])
    elif ctx.files.wheels:
        fail("%s: wheels are the wheelhouse of a lock: give requirements too" % ctx.label)

def _xar_python_impl(ctx):
    lines = _sources(ctx)
    arguments = ["python"]
    if ctx.files.srcs:
        arguments += ["--source", "@SOURCE@"]
    inputs = ctx.files.srcs + ctx.files.app_wheels
    _interpreter(ctx, arguments, lines, inputs)
    for wheel in ctx.files.app_wheels:
        arguments += ["--wheel", wheel.path]
    for entry_point in ctx.attr.entry_points:
        arguments += ["--entry-point", entry_point]
    for module in ctx.attr.modules:
        arguments += ["--module", module]
    if ctx.attr.default:
        arguments += ["--default", ctx.attr.default]
    if ctx.attr.revision and ctx.attr.stamp_revision:
        fail("%s: give revision or stamp_revision, not both" % ctx.label)
    if ctx.attr.revision:
        arguments += ["--revision", ctx.attr.revision]
    runfiles = None
    if ctx.file.runtime:
        arguments += ["--runtime", ctx.file.runtime.path]
        inputs.append(ctx.file.runtime)
        runfiles = ctx.runfiles(files = [ctx.file.runtime])
    return _xarbuild(ctx, "python", lines, arguments, inputs, ctx.attr.stamp_revision, runfiles)

def _xar_runtime_impl(ctx):
    arguments, lines, inputs = ["runtime"], [], []
    _interpreter(ctx, arguments, lines, inputs)
    return _xarbuild(ctx, "runtime", lines, arguments, inputs)

def _xar_directory_impl(ctx):
    arguments = ["dir", "@SOURCE@"]
    if ctx.attr.exec:
        arguments += ["--exec", ctx.attr.exec]
    return _xarbuild(ctx, "dir", _sources(ctx), arguments, ctx.files.srcs)

_TOOL = {
    "source_date_epoch": attr.int(default = 0, doc = "SOURCE_DATE_EPOCH for xarbuild: build time and file times."),
    "xarbuild_args": attr.string_list(doc = "More xarbuild options, after the rule's own."),
    "xarbuild": attr.label(
        executable = True,
        cfg = "exec",
        allow_files = True,
        doc = "The xarbuild to run, a binary or an executable file (default: xarbuild on PATH).",
    ),
}

_COMMON = dict(_TOOL, **{
    "srcs": attr.label_list(allow_files = True, doc = "The files of the tree, at their paths under strip_prefix."),
    "strip_prefix": attr.string(doc = "The directory under this package that is the tree's root (default: the package)."),
})

# The interpreter and the lock with its wheelhouse, as xar_python and xar_runtime take them.
_INTERPRETER = {
    "python": attr.string(doc = "The CPython installation to bundle, an absolute path (xarbuild's --python)."),
    "requirements": attr.label(allow_single_file = True, doc = "The lock: pinned name==version with hashes."),
    "wheels": attr.label_list(allow_files = [".whl"], doc = "The wheelhouse: the wheels the lock names."),
}

xar_python = rule(
    implementation = _xar_python_impl,
    executable = True,
    doc = "A Python application with its own interpreter and locked wheels: xarbuild python (docs/python.md).",
    attrs = dict(dict(_COMMON, **_INTERPRETER), **{
        "runtime": attr.label(
            allow_single_file = [".xar"],
            doc = "A runtime (a xar_runtime target or a .xar file): a thin image on it (--runtime), rebuilt when " +
                  "it changes; python is then the runtime's.",
        ),
        "app_wheels": attr.label_list(allow_files = [".whl"], doc = "The application's own wheels (--wheel)."),
        "entry_points": attr.string_list(doc = "NAME=module:function; the first is the default."),
        "modules": attr.string_list(doc = "[NAME=]MODULE entry points run like python -m."),
        "default": attr.string(doc = "The entry point run when invoked under another name."),
        "revision": attr.string(doc = "The source revision to record in the image's metadata."),
        "stamp_revision": attr.string(
            doc = "A key of Bazel's stable status (e.g. STABLE_GIT_COMMIT, printed by the script that " +
                  "--workspace_status_command names) whose value is the revision to record.",
        ),
    }),
)

xar_directory = rule(
    implementation = _xar_directory_impl,
    executable = True,
    doc = "A directory tree as a .xar: xarbuild dir; `exec` is the program in it that ./NAME.xar runs.",
    attrs = dict(_COMMON, **{
        "exec": attr.string(doc = "The program inside the tree that the .xar runs (xarbuild's --exec)."),
    }),
)

xar_runtime = rule(
    implementation = _xar_runtime_impl,
    executable = True,
    doc = "A shared runtime, an interpreter and locked wheels that thin xar_python images name (`runtime`): " +
          "xarbuild runtime (docs/runtimes.md). Run, it behaves like the python3 it carries.",
    attrs = dict(_TOOL, **_INTERPRETER),
)
