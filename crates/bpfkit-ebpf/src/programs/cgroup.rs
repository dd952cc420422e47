//! cgroup program contexts: `cgroup/sock*` (`struct bpf_sock`), `cgroup/{bind,connect,…}`
//! (`struct bpf_sock_addr`), `cgroup/sysctl`, `cgroup/{get,set}sockopt` and `cgroup/dev`.
//! (`cgroup_skb/*` uses [`SkBuffContext`](super::SkBuffContext).)

use super::{context, fields};
use crate::bindings::{bpf_cgroup_dev_ctx, bpf_sock, bpf_sock_addr, bpf_sockopt, bpf_sysctl};
use crate::helpers::{
    bpf_sysctl_get_current_value, bpf_sysctl_get_name, bpf_sysctl_get_new_value, check,
};

/// Context of a `cgroup/sock_create`, `sock_release`, `post_bind4`/`6` program.
pub struct CgroupSockContext {
    sk: *mut bpf_sock,
}

context!(CgroupSockContext, sk: bpf_sock);

impl CgroupSockContext {
    fields!(sk;
        /// `AF_*` family.
        family => family: u32,
        /// `SOCK_*` type.
        socket_type => type_: u32,
        /// `IPPROTO_*` protocol.
        protocol => protocol: u32,
        /// Socket mark.
        mark / set_mark => mark: u32,
        /// Socket priority.
        priority / set_priority => priority: u32,
        /// Bound device (`SO_BINDTODEVICE`).
        bound_dev_if / set_bound_dev_if => bound_dev_if: u32,
        /// Source IPv4 address (post_bind4), network byte order.
        src_ip4 => src_ip4: u32,
        /// Source port (post_bind), host byte order.
        src_port => src_port: u32,
    );
}

/// Context of a `cgroup/bind4`, `connect4`, `sendmsg4`, `getpeername4`, … program.
pub struct CgroupSockAddrContext {
    addr: *mut bpf_sock_addr,
}

context!(CgroupSockAddrContext, addr: bpf_sock_addr);

impl CgroupSockAddrContext {
    fields!(addr;
        /// Family of the address the user passed.
        user_family => user_family: u32,
        /// IPv4 address the user passed, network byte order.
        user_ip4 / set_user_ip4 => user_ip4: u32,
        /// Port the user passed, network byte order.
        user_port / set_user_port => user_port: u32,
        /// Socket family.
        family => family: u32,
        /// Socket type.
        socket_type => type_: u32,
        /// Socket protocol.
        protocol => protocol: u32,
        /// Source IPv4 address of `sendmsg4`, network byte order.
        msg_src_ip4 / set_msg_src_ip4 => msg_src_ip4: u32,
    );

    /// Word `index` (0..4) of the IPv6 address the user passed, network byte order.
    #[inline(always)]
    pub fn user_ip6(&self, index: usize) -> Option<u32> {
        if index >= 4 {
            return None;
        }
        // SAFETY: the context pointer is valid and `index < 4`.
        Some(unsafe { core::ptr::addr_of!((*self.addr).user_ip6[index]).read_volatile() })
    }
}

/// Context of a `cgroup/sysctl` program.
pub struct CgroupSysctlContext {
    sysctl: *mut bpf_sysctl,
}

context!(CgroupSysctlContext, sysctl: bpf_sysctl);

impl CgroupSysctlContext {
    fields!(sysctl;
        /// 1 when the sysctl is written, 0 when read.
        write => write: u32,
        /// File position of the access.
        file_pos / set_file_pos => file_pos: u32,
    );

    /// The sysctl's name (`BPF_F_SYSCTL_BASE_NAME` in `flags`: without the path) into `buf`;
    /// returns the bytes written without the NUL.
    #[inline(always)]
    pub fn name<'b>(&self, buf: &'b mut [u8], flags: u64) -> Result<&'b [u8], i64> {
        // SAFETY: `buf` is writable for its length; the helper NUL-terminates.
        let ret = unsafe {
            bpf_sysctl_get_name(
                self.sysctl,
                buf.as_mut_ptr().cast(),
                buf.len() as u64,
                flags,
            )
        };
        let len = check(ret)? as usize;
        buf.get(..len).ok_or(-7)
    }

    /// The current value as text into `buf`; returns the bytes written without the NUL.
    #[inline(always)]
    pub fn current_value<'b>(&self, buf: &'b mut [u8]) -> Result<&'b [u8], i64> {
        // SAFETY: as for `name`.
        let ret = unsafe {
            bpf_sysctl_get_current_value(self.sysctl, buf.as_mut_ptr().cast(), buf.len() as u64)
        };
        let len = check(ret)? as usize;
        buf.get(..len).ok_or(-7)
    }

    /// The value being written, as text into `buf` (`Err(-EINVAL)` on reads).
    #[inline(always)]
    pub fn new_value<'b>(&self, buf: &'b mut [u8]) -> Result<&'b [u8], i64> {
        // SAFETY: as for `name`.
        let ret = unsafe {
            bpf_sysctl_get_new_value(self.sysctl, buf.as_mut_ptr().cast(), buf.len() as u64)
        };
        let len = check(ret)? as usize;
        buf.get(..len).ok_or(-7)
    }
}

/// Context of a `cgroup/getsockopt` or `cgroup/setsockopt` program.
pub struct CgroupSockoptContext {
    opt: *mut bpf_sockopt,
}

context!(CgroupSockoptContext, opt: bpf_sockopt);

impl CgroupSockoptContext {
    fields!(opt;
        /// `SOL_*` level.
        level / set_level => level: i32,
        /// Option name.
        optname / set_optname => optname: i32,
        /// Option length.
        optlen / set_optlen => optlen: i32,
        /// Return value of the kernel's getsockopt (getsockopt programs).
        retval / set_retval => retval: i32,
    );

    /// Address of the option buffer.
    #[inline(always)]
    pub fn optval(&self) -> usize {
        // SAFETY: the verifier rewrites this load into the option buffer pointer.
        unsafe { core::ptr::addr_of!((*self.opt).optval.ptr).read_volatile() as usize }
    }

    /// Address one past the option buffer.
    #[inline(always)]
    pub fn optval_end(&self) -> usize {
        // SAFETY: as for `optval`.
        unsafe { core::ptr::addr_of!((*self.opt).optval_end.ptr).read_volatile() as usize }
    }
}

/// Context of a `cgroup/dev` program.
pub struct CgroupDeviceContext {
    dev: *mut bpf_cgroup_dev_ctx,
}

context!(CgroupDeviceContext, dev: bpf_cgroup_dev_ctx);

impl CgroupDeviceContext {
    fields!(dev;
        /// `(access << 16) | type`.
        access_type => access_type: u32,
        /// Device major number.
        major => major: u32,
        /// Device minor number.
        minor => minor: u32,
    );

    /// `BPF_DEVCG_DEV_BLOCK` (1) or `BPF_DEVCG_DEV_CHAR` (2).
    #[inline(always)]
    pub fn device_type(&self) -> u32 {
        self.access_type() & 0xffff
    }

    /// `BPF_DEVCG_ACC_MKNOD` (1) | `READ` (2) | `WRITE` (4).
    #[inline(always)]
    pub fn access(&self) -> u32 {
        self.access_type() >> 16
    }
}
