// Multiboot (a.out kludge) entry: 32-bit protected mode, paging off.
// Identity-maps the first 4 GiB with 2 MiB pages, enters long mode, enables
// SSE/AVX/AVX-512 state in XCR0 as far as the CPU has it, calls kernel_main.
        .set MB_MAGIC, 0x1BADB002
        .set MB_FLAGS, 0x00010003
        .section .multiboot, "ax"
        .align 4
header:
        .long MB_MAGIC, MB_FLAGS, -(MB_MAGIC + MB_FLAGS)
        .long header, image_start, image_end, bss_end, entry32

        .code32
        .globl entry32
entry32:
        cli
        mov $stack_top, %esp
        // PD i (i < 4) maps GiB i; PDPT[i] = PD i; PML4[0] = PDPT.
        mov $page_directories, %edi
        xor %ecx, %ecx
1:      mov %ecx, %eax
        shl $21, %eax
        or $0x83, %eax              // present, writable, 2 MiB
        mov %eax, (%edi,%ecx,8)
        movl $0, 4(%edi,%ecx,8)
        inc %ecx
        cmp $2048, %ecx
        jne 1b
        xor %ecx, %ecx
2:      mov %ecx, %eax
        shl $12, %eax
        add $page_directories, %eax
        or $3, %eax
        mov %eax, pdpt(,%ecx,8)
        movl $0, pdpt+4(,%ecx,8)
        inc %ecx
        cmp $4, %ecx
        jne 2b
        mov $pdpt, %eax
        or $3, %eax
        mov %eax, pml4
        movl $0, pml4+4
        mov $pml4, %eax
        mov %eax, %cr3
        mov %cr4, %eax
        or $((1 << 5) | (1 << 9) | (1 << 10) | (1 << 18)), %eax   // PAE, OSFXSR, OSXMMEXCPT, OSXSAVE
        mov %eax, %cr4
        mov $0xC0000080, %ecx
        rdmsr
        or $(1 << 8), %eax           // long mode enable
        wrmsr
        mov %cr0, %eax
        and $~(1 << 2), %eax         // no x87 emulation
        or $((1 << 1) | (1 << 31)), %eax
        mov %eax, %cr0
        lgdt gdt_pointer
        ljmp $0x08, $entry64

        .code64
entry64:
        mov $0x10, %ax
        mov %ax, %ds
        mov %ax, %es
        mov %ax, %ss
        mov %ax, %fs
        mov %ax, %gs
        mov $stack_top, %rsp
        // XCR0: x87 | SSE | AVX, plus opmask | ZMM_Hi256 | Hi16_ZMM where CPUID(0xD,0) offers them.
        mov $0xD, %eax
        xor %ecx, %ecx
        cpuid
        and $0xE7, %eax
        xor %edx, %edx
        xor %ecx, %ecx
        xsetbv
        call kernel_main
3:      cli
        hlt
        jmp 3b

        .section .rodata
        .align 16
gdt:    .quad 0
        .quad 0x00AF9A000000FFFF     // 64-bit code
        .quad 0x00CF92000000FFFF     // data
gdt_pointer:
        .word gdt_pointer - gdt - 1
        .long gdt

        .section .bss
        .align 4096
pml4:   .skip 4096
pdpt:   .skip 4096
page_directories: .skip 4 * 4096
        .skip 1 << 20
stack_top:
