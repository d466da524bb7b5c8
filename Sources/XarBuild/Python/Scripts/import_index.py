import marshal, os, sys
from importlib.machinery import (BYTECODE_SUFFIXES, EXTENSION_SUFFIXES, SOURCE_SUFFIXES,
    ExtensionFileLoader, FileFinder, SourceFileLoader, SourcelessFileLoader)
from importlib.util import MAGIC_NUMBER, cache_from_source
from importlib._bootstrap_external import _get_supported_file_loaders

SOURCE, SOURCE_ONLY, SOURCELESS, EXTENSION, NAMESPACE = range(5)
root, output, search_path = sys.argv[1], sys.argv[2], sys.argv[3:]
details = _get_supported_file_loaders()
suffixes = EXTENSION_SUFFIXES + SOURCE_SUFFIXES + BYTECODE_SUFFIXES
index = {}

def bytecode_size(source):
    # Only unchecked hash-based bytecode (flags 0b01) of this interpreter is read as it is at run time.
    path = cache_from_source(source)
    try:
        with open(path, 'rb') as f:
            header = f.read(16)
        size = os.path.getsize(path)
    except OSError:
        return 0
    if len(header) < 16 or header[:4] != MAGIC_NUMBER or int.from_bytes(header[4:8], 'little') != 1:
        return 0
    return size

def visit(directory, depth):
    relative = os.path.relpath(directory, root)
    if relative in index or relative.startswith('..') or depth > 64:
        return
    try:
        names = sorted(os.listdir(directory))
    except OSError:
        return
    candidates = set()
    for name in names:
        if name == '__pycache__':
            continue
        if os.path.isdir(os.path.join(directory, name)):
            candidates.add(name)
            continue
        for suffix in suffixes:
            if name.endswith(suffix) and len(name) > len(suffix):
                candidates.add(name[:-len(suffix)])
    entries = index[relative] = {}
    finder = FileFinder(directory, *details)
    for name in sorted(candidates):
        if '.' in name:
            continue
        spec = finder.find_spec(name)
        if spec is None:
            continue
        if spec.loader is None:
            entries[name] = (NAMESPACE, name, 0, True)
            visit(os.path.join(directory, name), depth + 1)
            continue
        file = os.path.relpath(spec.origin, directory)
        package = spec.submodule_search_locations is not None
        kind = type(spec.loader)
        if kind is SourceFileLoader:
            size = bytecode_size(spec.origin)
            entries[name] = (SOURCE, file, size, package) if size else (SOURCE_ONLY, file, 0, package)
        elif kind is SourcelessFileLoader:
            entries[name] = (SOURCELESS, file, 0, package)
        elif kind is ExtensionFileLoader:
            entries[name] = (EXTENSION, file, 0, package)
        else:
            continue
        if package:
            visit(os.path.join(directory, name), depth + 1)

for entry in search_path:
    visit(os.path.normpath(os.path.join(root, entry)), 0)
with open(output, 'wb') as f:
    f.write(marshal.dumps(index, 2))
