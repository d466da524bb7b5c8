import json, os, platform, sys, sysconfig
v = sys.version_info
dyn = [p for p in sys.path if p.rstrip('/').endswith('lib-dynload')]
iv = sys.implementation.version
ivs = '%d.%d.%d' % (iv.major, iv.minor, iv.micro)
if iv.releaselevel != 'final': ivs += iv.releaselevel[0] + str(iv.serial)
libc = os.confstr('CS_GNU_LIBC_VERSION') if hasattr(os, 'confstr') else None
print(json.dumps({
  'executable': os.path.realpath(sys.executable),
  'implementation': sys.implementation.name,
  'version': [v.major, v.minor, v.micro],
  'abiflags': getattr(sys, 'abiflags', ''),
  'platform': sysconfig.get_platform(),
  'glibc': (libc or '').replace('glibc ', '') if (libc or '').startswith('glibc') else '',
  'stdlib': sysconfig.get_paths()['stdlib'],
  'lib_dynload': dyn[0] if dyn else '',
  'markers': {
    'os_name': os.name, 'sys_platform': sys.platform, 'platform_machine': platform.machine(),
    'platform_python_implementation': platform.python_implementation(),
    'platform_release': platform.release(), 'platform_system': platform.system(),
    'platform_version': platform.version(),
    'python_version': '.'.join(platform.python_version_tuple()[:2]),
    'python_full_version': platform.python_version(),
    'implementation_name': sys.implementation.name, 'implementation_version': ivs,
  },
}))
