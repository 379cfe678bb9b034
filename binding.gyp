{
  # node-gyp build of the CPU addon; mirrors CMakeLists.txt (the primary, cmake-js build).
  # Build with: npm run build:gyp   (output: build/Release/node_rnn.node)
  "targets": [
    {
      "target_name": "node_rnn",
      # Same as CMake's file(GLOB ...): every .cpp under native/core, native/cpu and native/binding.
      "sources": [
        "<!@(node -p \"['core','cpu','binding'].flatMap(d => require('fs').readdirSync('native/' + d).filter(f => f.endsWith('.cpp')).sort().map(f => 'native/' + d + '/' + f)).join(' ')\")"
      ],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")"
      ],
      "defines": [
        "NAPI_VERSION=8",
        "NAPI_CPP_EXCEPTIONS",
        "NODE_ADDON_API_DISABLE_DEPRECATED",
        "NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS"
      ],
      # node-gyp turns C++ exceptions off by default; node-addon-api is used with them on.
      "cflags!": [ "-fno-exceptions" ],
      "cflags_cc!": [ "-fno-exceptions", "-std=gnu++17" ],
      "cflags": [ "-O3", "-fno-math-errno", "-fno-trapping-math" ],
      "cflags_cc": [ "-std=c++17", "-fexceptions" ],
      "conditions": [
        [ "OS != 'win'", {
          # OpenBLAS from pkg-config; plain -lopenblas with the usual header dir when pkg-config is missing.
          "cflags": [ "<!@(pkg-config --cflags openblas 2>/dev/null || echo -I/usr/include/openblas)" ],
          "libraries": [ "<!@(pkg-config --libs openblas 2>/dev/null || echo -lopenblas)" ]
        } ],
        [ "OS == 'mac'", {
          "xcode_settings": {
            "GCC_ENABLE_CPP_EXCEPTIONS": "YES",
            "CLANG_CXX_LANGUAGE_STANDARD": "c++17",
            "MACOSX_DEPLOYMENT_TARGET": "10.15",
            "OTHER_CFLAGS": [
              "-O3", "-fno-math-errno", "-fno-trapping-math",
              "<!@(pkg-config --cflags openblas 2>/dev/null || echo -I/usr/include/openblas)"
            ]
          }
        } ]
      ]
    }
  ]
}
