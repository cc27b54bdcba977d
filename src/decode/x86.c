/* placeholder: being written */
typedef int vmio_placeholder_x86;
