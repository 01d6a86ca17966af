# The SIGSEGV handler of sampled allocations on Linux x64 (FaultReporter.cs holds these bytes; regenerate them with
#   as fault-handler-x64.S -o h.o && objcopy -O binary -j .text h.o h.bin && xxd -i h.bin
# SamplingTests checks that they still match).
#
# Entered as an SA_SIGINFO handler: rdi = signal, rsi = siginfo_t*, rdx = ucontext_t*. When the faulting address
# (siginfo->si_addr, at +16) lies in the sampling pool, it finds the report of its half page (in the pool's first part,
# one-page units) or of its half unit (in the large part after it, 4 MiB units: 2 MiB halves), prints the line
#   "\nSlabGen sampling: invalid access at 0x<address> (object +0x<offset>)\n" (85 bytes)
# (or "-0x" before the object) and the half page's report, both prepared by managed code, with write(2). Then, in every
# case, it jumps to the handler that was installed before it (the runtime's) with the registers it was entered with.
# No stack beyond three pushes and a call, no libc call: async-signal-safe.
#
# The data block (its address at the label `data`, written before the page is made executable):
#   +0 pool base   +8 pool bytes   +16 reports base (1,024 bytes a half unit: length, object, text)   +24 previous handler
#   +32 bytes of the one-page part   +40 the large part's first report
#   +48 the line above: address digits at +48+39, sign at +48+64, offset digits at +48+67.
.intel_syntax noprefix
.text
handler:
    push rdi
    push rsi
    push rdx
    mov r8, [rip + data]
    mov rax, [rsi + 16]
    mov rcx, rax
    sub rcx, [r8]
    cmp rcx, [r8 + 8]
    jae 9f
    mov r9, [r8 + 16]
    cmp rcx, [r8 + 32]
    jb 4f
    sub rcx, [r8 + 32]
    shr rcx, 10
    mov r9, [r8 + 40]
4:
    shr rcx, 11
    shl rcx, 10
    add rcx, r9
    mov r9, rcx
    lea rdi, [r8 + 48 + 39 + 15]
    mov rdx, rax
    call hex16
    mov byte ptr [r8 + 48 + 64], 0x2b
    mov rdx, rax
    sub rdx, [r9 + 8]
    jns 1f
    neg rdx
    mov byte ptr [r8 + 48 + 64], 0x2d
1:
    lea rdi, [r8 + 48 + 67 + 15]
    call hex16
    mov eax, 1
    mov edi, 2
    lea rsi, [r8 + 48]
    mov edx, 85
    syscall
    mov eax, 1
    mov edi, 2
    lea rsi, [r9 + 16]
    mov rdx, [r9]
    syscall
9:
    pop rdx
    pop rsi
    pop rdi
    mov r11, [rip + data]
    jmp [r11 + 24]

# Writes rdx as 16 hex digits ending at rdi; clobbers rdx, r10, r11.
hex16:
    mov r11d, 16
2:
    mov r10d, edx
    and r10d, 15
    add r10d, 0x30
    cmp r10d, 0x39
    jbe 3f
    add r10d, 39
3:
    mov [rdi], r10b
    dec rdi
    shr rdx, 4
    dec r11d
    jnz 2b
    ret

.balign 8
data:
    .quad 0
