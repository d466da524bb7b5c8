import XarFormat

/// `/.xar/startup-files`: the files a start of the default entry point reads, in the order it needs them, so that
/// an image's very first cold start on a host already reads ahead (see docs/lifecycle.md, "Cold starts").
///
/// The server records what each start needed and the next start of the image follows that record (its start-up
/// plan). The first start on a host has no record: the server then makes a plan from this list, which `xarbuild`
/// writes by asking the bundled interpreter, in the staged tree, what importing the default entry point's module
/// loads, the way `bootstrap.py` does it at run time (the import index, the `.pth` lines, no call of the entry
/// function): the files in the order that start first needs them, from the interpreter and the libraries mapped
/// at its exec to every module's bytecode, extension file and shared library, and package data. The list is
/// deterministic (the same inputs give the same imports, with a fixed hash seed): it is part of a byte-identical
/// image.
///
/// Importing the entry module runs its top-level code at build time, which an application whose import has side
/// effects may not want: `--no-startup-list` leaves the list out (the first start then reads as it goes).
enum PythonStartupList {
    static let path = XarImageLayout.startupList

    /// Writes the list for the staged tree at `root`, running its interpreter; the default entry point is the
    /// one `bootstrap.py` runs without a name. A failing import is not an error (the list is only a hint): the
    /// files read until then are listed, and the exception is returned, for a note.
    static func write(root: String) throws -> String? {
        let output = try ToolRunner.run(
            ["\(root)/python/python3", "-s", "-c", generator, root, "\(root)/\(path)"],
            environment: ["PYTHONHASHSEED": "0", "PYTHONDONTWRITEBYTECODE": "1"], directory: root)
        guard output.status == 0 else {
            throw PythonBuildError("Cannot list the files the application starts with: \(output.stderrTail)")
        }
        let marker = "import stopped: "
        return output.stderr.split(separator: "\n").last { $0.hasPrefix(marker) }.map {
            String($0.dropFirst(marker.count))
        }
    }

    /// Run by the staged interpreter: argv = root, output.
    static let generator = """
        import os, sys
        root, output = sys.argv[1], sys.argv[2]
        listed, order, mapped, busy = set(), [], set(), [False]
        def inside(path):
            path = os.path.normpath(path)
            return path[len(root) + 1:] if path.startswith(root + '/') and os.path.isfile(path) else None
        def add(path):
            name = inside(path) if isinstance(path, str) else None
            if name and name not in listed and name != output[len(root) + 1:]:
                listed.add(name)
                order.append(name)
        def newly_mapped():
            # Shared libraries are mapped by the dynamic loader, which Python does not audit: they are listed when
            # an import or open first finds them mapped, next to what needed them.
            with open('/proc/self/maps') as maps:
                for line in maps:
                    fields = line.split(None, 5)
                    if len(fields) == 6 and fields[5].strip() not in mapped:
                        mapped.add(fields[5].strip())
                        add(fields[5].strip())
        def cached(module):
            spec = getattr(module, '__spec__', None)
            for path in (getattr(spec, 'cached', None), getattr(spec, 'origin', None)):
                if isinstance(path, str) and inside(path):
                    return path
        def hook(event, args):
            if busy[0] or event not in ('open', 'import'):
                return
            busy[0] = True
            try:
                newly_mapped()
                if event == 'open' and args:
                    add(args[0])
            finally:
                busy[0] = False
        # In the order a start needs them: the interpreter and the libraries mapped at its exec, the modules its
        # own start-up imported, the bootstrap; then whatever the entry module's import opens or maps.
        add(root + '/python/python3')
        newly_mapped()
        for module in list(sys.modules.values()):
            add(cached(module))
        for name in ('bootstrap.pyc', '_xar_importer.py', 'import-index.marshal'):
            add(root + '/.xar/' + name)
        sys.addaudithook(hook)
        sys.path.insert(0, root + '/.xar')
        import bootstrap  # installs the import index's finder, as at run time
        kind, target = bootstrap._ENTRIES[bootstrap._DEFAULT]
        try:
            for line in bootstrap._PTH_IMPORTS:
                exec(line)
            if kind == 'module':
                import importlib.util
                importlib.util.find_spec(target)
            else:
                __import__(target.partition(':')[0])
        except BaseException as error:
            print('import stopped: %r' % (error,), file=sys.stderr)
        busy[0] = True
        newly_mapped()
        for module in list(sys.modules.values()):
            add(cached(module))
        with open(output, 'w') as out:
            out.write(''.join(name + '\\n' for name in order))
        """
}
