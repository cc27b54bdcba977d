/* placeholder: being written */
typedef int vmio_placeholder_arm64;
