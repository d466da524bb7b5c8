import importlib, importlib.util, json, sys, traceback
root = sys.argv[1]
sys.path.insert(0, root + '/.xar')
import bootstrap  # installs the import index's finder, as at run time
def why(error):
    return ''.join(traceback.format_exception_only(type(error), error)).strip()
for path, number, line in bootstrap._pth_imports():
    try:
        bootstrap._exec_pth_line(path.rpartition('/')[0], line)
    except BaseException as error:
        print(json.dumps(['', '%s, line %d: %s' % (path.rpartition('/')[2], number, line), why(error)]), flush=True)
for name, (kind, target) in bootstrap._ENTRIES.items():
    try:
        if kind == 'module':
            if importlib.util.find_spec(target) is None:
                raise ModuleNotFoundError('No module named %r' % target)
        else:
            module, _, attribute = target.partition(':')
            found = importlib.import_module(module)
            for part in attribute.split('.'):
                found = getattr(found, part)
            if not callable(found):
                raise TypeError('%s is a %s, not a function' % (target, type(found).__name__))
    except BaseException as error:
        print(json.dumps([name, target, why(error)]), flush=True)
