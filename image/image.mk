# Appliance images (included by the top-level Makefile). See image/README.md.
#
#   make image BOARD=qemu-virt-arm64    u-root initramfs for one board
#   make images                         every QEMU board, plus the bare u-root images
#   make qemu BOARD=qemu-malta-mipsle   boot one interactively (console on this terminal)
#   make qemu-test                      cross builds + ELF checks + boot every image under QEMU
#   make kernels                        Debian kernels for the QEMU boards, cached in build/kernel
#
# Kernels are Debian .debs unpacked (not installed) under build/kernel/DEBARCH;
# the u-root tool is installed into build/gobin. Nothing is fetched from anywhere
# but Debian's archive and the Go module proxy.

BOARD       ?= qemu-virt-arm64
QEMU_BOARDS := qemu-virt-arm64 qemu-malta-mipsle
UROOT_VER   := v0.16.0
GOBIN_DIR   := $(CURDIR)/build/gobin
UROOT       := $(GOBIN_DIR)/u-root
IMAGE_DIR    = build/image/$(BOARD)

# Per board: GOARCH, Debian architecture, kernel meta package.
ARCH_qemu-virt-arm64     := arm64
DEBARCH_qemu-virt-arm64  := arm64
META_qemu-virt-arm64     := linux-image-arm64
ARCH_qemu-malta-mipsle   := mipsle
DEBARCH_qemu-malta-mipsle := mipsel
META_qemu-malta-mipsle   := linux-image-4kc-malta

B_ARCH    = $(ARCH_$(BOARD))
B_DEBARCH = $(DEBARCH_$(BOARD))
B_KERNEL  = build/kernel/$(B_DEBARCH)

.PHONY: image image-bare images kernels kernel qemu qemu-test cross-test uroot

$(UROOT):
	GOBIN=$(GOBIN_DIR) $(GO) install github.com/u-root/u-root@$(UROOT_VER)
uroot: $(UROOT)

kernel:
	@test -n "$(B_ARCH)" || { echo "unknown BOARD=$(BOARD) (have: $(QEMU_BOARDS))"; exit 2; }
	image/kernel.sh $(B_DEBARCH) $(META_$(BOARD)) $(B_KERNEL)

kernels:
	@for b in $(QEMU_BOARDS); do $(MAKE) --no-print-directory kernel BOARD=$$b || exit 1; done

# The bare image: u-root's core commands and nothing of ours, one per
# architecture. Slow (u-root rebuilds every command with go build -a), so it
# is cached; it is also the baseline of the boot-time measurement.
BARE = build/image/bare-$(B_ARCH).cpio
build/image/bare-%.cpio: | $(UROOT)
	@mkdir -p build/image
	GOARCH=$* GOMIPS=softfloat CGO_ENABLED=0 $(UROOT) -o $@.tmp -skip-ldd -uinitcmd= \
		'github.com/u-root/u-root/cmds/core/*'
	mv $@.tmp $@

image-bare: kernel
	@test -n "$(B_ARCH)" || { echo "unknown BOARD=$(BOARD) (have: $(QEMU_BOARDS))"; exit 2; }
	$(MAKE) --no-print-directory $(BARE)

# The leaseguard image: the bare image plus a second cpio archive with
# leaseguard (cross-built, static) as the uinit, the board's kernel modules
# and /etc/leaseguard.
image: image-bare
	CGO_ENABLED=0 GOOS=linux GOARCH=$(B_ARCH) GOMIPS=softfloat \
		$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/leaseguard-linux-$(B_ARCH) ./cmd/leaseguard
	$(GO) run ./image/stage -board $(BOARD) -kernel $(B_KERNEL) -dir $(IMAGE_DIR) \
		-binary $(BIN)/leaseguard-linux-$(B_ARCH) -base $(BARE) \
		-agent-config image/boards/$(BOARD)/agent.json
	@ls -l $(BARE) $(IMAGE_DIR)/initramfs.cpio | awk '{printf "image %-45s %6.2f MB\n", $$9, $$5/1048576}'

images: cross
	@for b in $(QEMU_BOARDS); do \
		$(MAKE) --no-print-directory image BOARD=$$b || exit 1; \
	done

# Static-ELF checks of the cross builds (machine, class, endianness, no
# interpreter, no dynamic section).
cross-test: cross
	$(GO) test -count=1 -run 'TestCrossBinaries' -v ./image/

# Boots every board's image under QEMU with NICs in lab namespaces and
# relays DHCP through each guest to dhcpd (needs isc-dhcp-server and
# udhcpc). LEASEGUARD_QEMU=1 makes missing images a failure, not a skip.
qemu-test: cross-test images
	@mkdir -p build
	@LEASEGUARD_QEMU=1 $(GO) test -count=1 -timeout 15m -v -run 'TestBoot' ./image/qemu/ >build/qemu-test.log 2>&1; \
		rc=$$?; grep -E '^\s*(--- |ok|FAIL|PASS)|measure:' build/qemu-test.log; \
		[ $$rc = 0 ] || { tail -n 300 build/qemu-test.log; echo "qemu-test failed: console transcripts in build/qemu-test.log"; }; exit $$rc

# Interactive boot for a person: console on this terminal (Ctrl-A X quits),
# a shell on the console, user-mode networking.
qemu: image
	$(GO) run ./image/qemu/cmd/lgqemu -board $(BOARD) -root $(CURDIR)
