/* placeholder: being written */
typedef int vmio_placeholder_inject_arm64;
