/*
 * The demo guest ELF (guest/tests/demo.c, multiboot ELF32) embedded into the
 * vmio binary by the generated assembly in meson variable guest_demo_obj.
 * Invariants: the bytes run from vmio_demo_guest_start up to (excluding)
 * vmio_demo_guest_end; they are read-only and live for the whole program.
 */
#ifndef VMIO_GUEST_DEMO_EMBED_H
#define VMIO_GUEST_DEMO_EMBED_H

extern const unsigned char vmio_demo_guest_start[], vmio_demo_guest_end[];

#endif
