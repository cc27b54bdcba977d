/* placeholder: being written */
typedef int vmio_placeholder_riscv;
