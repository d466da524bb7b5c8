/// `/.xar/startup-files`: the files a start of the default entry point reads, in the order it needs them, so that
/// an image's very first cold start on a host already reads ahead (see docs/lifecycle.md, "Cold starts").
///
/// The server records what each start needed and the next start of the image follows that record (its start-up
/// plan). The first start on a host has no record: the server then makes a plan from this list, which `xarbuild`
/// writes by asking the bundled interpreter, in the staged tree, what importing the default entry point's module
/// loads, the way `bootstrap.py` does it at run time (the import index, the `.pth` lines, no call of the entry
/// function): the interpreter and the shared libraries it maps, then every module's bytecode or extension file in
/// import order, then any other file opened meanwhile (package data). The list is deterministic (the same inputs
/// give the same imports, with a fixed hash seed): it is part of a byte-identical image.
///
/// Importing the entry module runs its top-level code at build time, which an application whose import has side
/// effects may not want: `--no-startup-list` leaves the list out (the first start then reads as it goes).
enum PythonStartupList {
    static let path = ".xar/startup-files"

    /// Writes the list for the staged tree at `root`, running its interpreter; the default entry point is the
    /// one `bootstrap.py` runs without a name. A failing import is not an error (the list is only a hint): the
    /// files read until then are listed.
    static func write(root: String) throws {
        let output = try ToolRunner.run(
            ["\(root)/python/python3", "-s", "-c", generator, root, "\(root)/\(path)"],
            environment: ["PYTHONHASHSEED": "0", "PYTHONDONTWRITEBYTECODE": "1"], directory: root)
        guard output.status == 0 else {
            let detail = output.stderr.split(separator: "\n").suffix(3).joined(separator: " ")
            throw PythonBuildError("Cannot list the files the application starts with: \(detail)")
        }
    }

    /// Run by the staged interpreter: argv = root, output.
    static let generator = """
        import os, sys
        sys.dont_write_bytecode = True
        root, output = sys.argv[1], sys.argv[2]
        opened = []
        def hook(event, args):
            if event == 'open' and args and isinstance(args[0], str):
                opened.append(args[0])
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
            print('xarbuild: importing the entry point at build time stopped: %r' % (error,), file=sys.stderr)
        def inside(path):
            path = os.path.normpath(path)
            return path[len(root) + 1:] if path.startswith(root + '/') and os.path.isfile(path) else None
        mapped = set()
        with open('/proc/self/maps') as maps:
            for line in maps:
                fields = line.split(None, 5)
                if len(fields) == 6 and inside(fields[5].strip()):
                    mapped.add(inside(fields[5].strip()))
        files = ['python/python3'] + sorted(mapped - {'python/python3'})
        files += ['.xar/bootstrap.py', '.xar/_xar_importer.py', '.xar/import-index.marshal']
        for module in list(sys.modules.values()):
            spec = getattr(module, '__spec__', None)
            for path in (getattr(spec, 'cached', None), getattr(spec, 'origin', None)):
                if isinstance(path, str) and inside(path):
                    files.append(inside(path))
                    break
        files += [inside(path) for path in opened if inside(path)]
        seen, unique = set(), []
        for name in files:
            if name not in seen and name != output[len(root) + 1:]:
                seen.add(name)
                unique.append(name)
        with open(output, 'w') as out:
            out.write(''.join(name + '\\n' for name in unique))
        """
}
